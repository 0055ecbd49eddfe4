{ config, lib, ... }:
{
  assertions = [ { assertion = config.networking.hostName == "expected"; message = "the host name must be 'expected'"; } ];
}
