# cmake -DFILE=path -DMAX_BYTES=n -P check_size.cmake: fails when FILE is larger than MAX_BYTES.
file(SIZE "${FILE}" bytes)
message(STATUS "${FILE}: ${bytes} bytes (at most ${MAX_BYTES})")
if(bytes GREATER MAX_BYTES)
  message(FATAL_ERROR "${FILE} is ${bytes} bytes, over its budget of ${MAX_BYTES}: see what it links "
                      "(nm --size-sort -S -C) before raising the budget")
endif()
