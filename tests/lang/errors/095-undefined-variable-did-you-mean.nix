let length = 1; in lenght
