# A let and a rec set fill their slots in symbol order (qka is interned before qkb, by
# `z = qka`): qkb = qka then shares the cell qka already has, which prints «repeated».
[
  (let z = qka; qkb = qka; qka = [ 1 ]; in [ qka qkb ])
  (rec { z = qka; qkb = qka; qka = [ 1 ]; r = [ qka qkb ]; }).r
  (let qka = qkb; qkb = [ 1 ]; in [ qka qkb ])
]
