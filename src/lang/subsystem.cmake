# The language's evaluator runs on a thread with a large stack (flakectl eval).
find_package(Threads REQUIRED)
target_link_libraries(flakectl_core PUBLIC Threads::Threads)
