# uplinkd_add_test(NAME SOURCES a_test.cc ... LIBS lib ... [LABELS l ...] [SERIAL])
# One GoogleTest executable; each TEST becomes a CTest test through gtest_discover_tests.
# Label `unit` unless LABELS says otherwise. In a TSan build the UPLINKD_TSAN_TESTS are named
# tsan.<Suite>.<Test> (ctest -R '^tsan\.') and built by the tsan_tests target.
# SERIAL: the tests never run alongside any other (ctest -j). Properties must go through
# gtest_discover_tests: the test names exist only after discovery, at build time, so
# set_tests_properties on ${name}_TESTS would set nothing.
function(uplinkd_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} uplinkd_test_main GTest::gtest GTest::gmock)
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  set(serial FALSE)
  if(ARG_SERIAL)
    set(serial TRUE)
  endif()
  # One label only: gtest_discover_tests splits a list given as a property value.
  set(prefix "")
  if(UPLINKD_TSAN AND name IN_LIST UPLINKD_TSAN_TESTS)
    set(prefix "tsan.")
    add_dependencies(tsan_tests ${name})
  endif()
  # A GTEST_SKIP() exits 0; CTest still reports it as skipped because gtest_discover_tests gives
  # every test SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" itself (CMake >= 3.18).
  gtest_discover_tests(${name} TEST_PREFIX "${prefix}" DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${labels}" RUN_SERIAL ${serial})
endfunction()
