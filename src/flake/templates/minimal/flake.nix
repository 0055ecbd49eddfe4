{
  description = "My machine, managed by flakectl";

  outputs = { self, ... }: {
    # One entry per machine; `flakectl switch` picks the one named like this machine.
    hosts.@HOST@ = {
      system = "@SYSTEM@";
      platform = "@PLATFORM@";
      modules = [ ./hosts/@HOST@ ];
    };
  };
}
