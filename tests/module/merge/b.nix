{ config, lib, ... }:
{
  config = lib.mkMerge [
    { test.scalar = "from-b"; }
    { test.list = lib.mkBefore [ "b-first" ]; }
    { test.list = lib.mkAfter [ "b-last" ]; }
    { test.forced = 3; }
    (lib.mkIf (config.test.platform == "linux") { test.lines = lib.mkAfter "linux line from b"; })
    { test.servers.web.tags = [ "b" ]; test.maybe = 9000; test.choice = "b"; }
  ];
}
