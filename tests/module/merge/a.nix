{ config, lib, host, ... }:
{
  test.scalar = lib.mkDefault "from-a-default";
  test.forced = lib.mkForce 7;
  test.list = [ "a1" "a2" ];
  test.lines = "line from a";
  test.either = "a string";
  test.platform = if host.isDarwin then "mac" else if host.isWSL then "wsl" else "linux";
  test.servers.web = { port = 8080; tags = [ "a" ]; };
  test.servers.db.port = lib.mkIf host.isLinux 5432;
  test.derived = "web is at ${config.test.servers.web.url}";
}
