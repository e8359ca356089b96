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

# The whole harness at the small scale with short runs: it runs, writes the
# three report files, and the numbers parse (report.py --check). It uses the
# daemon and the data generator when they are built, the constant server
# alone otherwise. Serial: it loads both CPUs.
add_test(NAME bench_harness_small
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_bench.sh --scale small --quick --check
          --build ${CMAKE_BINARY_DIR}
          --out ${CMAKE_BINARY_DIR}/bench/results/small)
set_tests_properties(bench_harness_small PROPERTIES
  RUN_SERIAL TRUE TIMEOUT 600 LABELS bench)
