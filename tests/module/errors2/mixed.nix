{ ... }:
{
  config.networking.hostName = "a";
  environment.variables.X = "b";
}
