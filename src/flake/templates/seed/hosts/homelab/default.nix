# homelab: a Linux server at home (Debian, Ubuntu or any distribution with systemd).
{ config, lib, ... }:
{
  networking.hostName = "homelab";

  homelab.monitoring.exporterPort = 9100;

  environment.etc."motd.d/homelab".text = "backups run at 03:00\n";

  # Once the machine has a key (secrets/README.md): `flakectl check` then verifies that every
  # secret this host uses is encrypted to it.
  # age.hostPublicKey = "age1...";
}
