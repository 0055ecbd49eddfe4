rec { x.y = 1; z = x.y + 1; }
