# The HTTP benchmark harness: latency histogram, constant-answer server, load
# generator, the run script and its end-to-end test. Included from
# bench/CMakeLists.txt; paths are relative to this folder.

add_library(portcullis_bench_histogram ${CMAKE_CURRENT_LIST_DIR}/histogram.cc)
target_include_directories(portcullis_bench_histogram PUBLIC ${PROJECT_SOURCE_DIR})

add_executable(histogram_test ${CMAKE_CURRENT_LIST_DIR}/histogram_test.cc)
target_link_libraries(histogram_test PRIVATE portcullis_bench_histogram GTest::gtest_main)
gtest_discover_tests(histogram_test)

# Mix files, raw requests and result JSON: everything of the load generator
# that needs no socket (and no Beast).
add_library(portcullis_bench_loadgen_core ${CMAKE_CURRENT_LIST_DIR}/loadgen_core.cc)
target_link_libraries(portcullis_bench_loadgen_core
  PUBLIC portcullis_bench_histogram portcullis_common
  PRIVATE rapidjson_headers)

add_executable(loadgen_core_test ${CMAKE_CURRENT_LIST_DIR}/loadgen_core_test.cc)
target_link_libraries(loadgen_core_test PRIVATE portcullis_bench_loadgen_core rapidjson_headers GTest::gtest_main)
gtest_discover_tests(loadgen_core_test)

# Beast lives only in constant_server.cc and loadgen.cc (about 12 s and
# 600 MB of compiler memory each).
add_executable(constant_server ${CMAKE_CURRENT_LIST_DIR}/constant_server.cc)
target_link_libraries(constant_server PRIVATE Boost::headers Threads::Threads)

add_executable(loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.cc)
target_link_libraries(loadgen PRIVATE portcullis_bench_loadgen_core Boost::headers Threads::Threads)
