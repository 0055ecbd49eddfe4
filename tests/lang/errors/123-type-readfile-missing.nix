builtins.readFile /nonexistent/flakectl-test-file
