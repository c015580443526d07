# Fails if an object of the instruction-set kernels defines a weak or unique symbol: the linker
# keeps one copy of such a symbol for the whole program, so code compiled for AVX-512 could end up
# called from everywhere (see cpp/kernels/kernel_abi.hpp). Run by CMakeLists.txt before the
# library is archived: cmake -DNM=nm -DOBJECTS="a.o;b.o" -P check_kernel_objects.cmake
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} --defined-only ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "nm failed on ${object}")
  endif()
  string(REGEX MATCHALL "[^\n]* [WwVvu] [^\n]*" shared "${symbols}")
  if(shared)
    string(REPLACE ";" "\n" shared "${shared}")
    message(FATAL_ERROR "${object} defines symbols that other units may share:\n${shared}")
  endif()
endforeach()
