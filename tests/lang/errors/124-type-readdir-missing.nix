builtins.readDir /nonexistent/flakectl-test-dir
