{ ... }:
{
  t.maybe = 3;
}
