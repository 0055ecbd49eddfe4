import 42
