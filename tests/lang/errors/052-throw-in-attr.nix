{
  a = 1;
  b.c = [ (throw "deep error") ];
}
