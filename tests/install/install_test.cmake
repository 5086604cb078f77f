# Installs the build under test into a temporary prefix, then configures, builds and runs
# tests/install/consumer against it: fails when the package is broken (a header or an
# archive not installed, a dependency rtengineConfig.cmake does not find, a wrong target).
#   cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX=... -P install_test.cmake
foreach(v BUILD_DIR CONSUMER_DIR WORK_DIR GENERATOR CXX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_test: ${v} is not set")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_test: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "install_test: ${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
# DESTDIR as well as a prefix: a destination configured as absolute (/etc in a package
# build) lands below WORK_DIR too, never on this machine.
set(prefix /opt/rtengine-test)
set(ENV{DESTDIR} ${WORK_DIR}/root)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
unset(ENV{DESTDIR})
set(root ${WORK_DIR}/root${prefix})

run("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${root} -DEXPECT_PREFIX=${root})
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run("run the consumer" ${WORK_DIR}/build/consumer)
message(STATUS "${last_output}")
