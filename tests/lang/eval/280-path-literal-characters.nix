[ /a-b/c_d/e.f/g+h ]
