# Which public keys may read which secret (agenix's format). `flakectl secret edit FILE`
# encrypts to these recipients; `flakectl secret rekey` re-encrypts after a change here.
let
  alice = "age1gy23cjrrkv2tq93kgzm42paf4fe7hfc4820qxgwut95vh80ypvtqrukdn8";
  homelab-node1 = "age158mza0lnwe8np208kmund5dnkvdwdgjcm0nd66em8584hyutvuhswzzcpu";
  homelab-node2 = "age16jq55eus3d0x9yayas5qx65y0u9g2n6s2xwz5pr6jnfwcwturqesdhkdkp";
  servers = [ homelab-node1 homelab-node2 ];
in
{
  "k3s-token.age".publicKeys = [ alice ] ++ servers;
  "wireguard-homelab-node1.age".publicKeys = [ alice homelab-node1 ];
  "wireguard-homelab-node2.age".publicKeys = [ alice homelab-node2 ];
}
