assert (({ qkb ? qka, qka }: true) == null); 1
