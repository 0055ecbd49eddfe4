{ config, ... }:
{
  networking.hostName = config.t.needed;
}
