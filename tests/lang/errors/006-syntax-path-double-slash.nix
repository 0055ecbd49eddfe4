/a//b
