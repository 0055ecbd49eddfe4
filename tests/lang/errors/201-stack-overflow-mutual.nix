let even = n: 1 + (odd (n + 1)); odd = n: 1 + (even (n + 1)); in even 0
