let cfg = { enable = true; }; in cfg.enabel
