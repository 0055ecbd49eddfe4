let mk = name: { inherit name; }; in (mk "a").port
