rec {
  a = b;
  b = a;
}
