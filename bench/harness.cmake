# The HTTP benchmark harness: latency histogram, constant-answer server, load
# generator, the run script and its end-to-end test. Included from
# bench/CMakeLists.txt; paths are relative to this folder.

add_library(portcullis_bench_histogram ${CMAKE_CURRENT_LIST_DIR}/histogram.cc)
target_include_directories(portcullis_bench_histogram PUBLIC ${PROJECT_SOURCE_DIR})

add_executable(histogram_test ${CMAKE_CURRENT_LIST_DIR}/histogram_test.cc)
target_link_libraries(histogram_test PRIVATE portcullis_bench_histogram GTest::gtest_main)
gtest_discover_tests(histogram_test)
