# Thin wrapper over CMake; the README's commands call these targets.
.PHONY: all test example clean
all:
	cmake -S . -B build && cmake --build build -j$$(nproc)
test:
	bash scripts/test.sh
example:
	bash scripts/run-example.sh
clean:
	rm -rf build build-asan
