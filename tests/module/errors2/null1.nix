{ ... }:
{
  t.maybe = null;
}
