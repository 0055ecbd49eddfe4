# Who can read each secret: "NAME.age".publicKeys = [ recipients ]. `flakectl secret rekey`
# re-encrypts a file after its list changes; `flakectl check` verifies every host's secrets
# against it. See README.md here. For example:
#
#   let
#     me = "age1...";       # your key (README.md: flakectl secret keygen)
#     homelab = "age1...";  # the machine's: ssh-keyscan or flakectl secret keygen on it
#   in {
#     "wifi-password.age".publicKeys = [ me homelab ];
#   }
{ }
