# find_package(Torch) for the libtorch inside pip's PyTorch, where no libtorch-dev package is at
# hand (a GPU machine with PyTorch installed, say):
#
#   cmake -S . -B build-train -DSHOAL_WITH_TRAINER=ON -DSHOAL_BUILD_TESTS=OFF -DTorch_DIR=$PWD/cmake/pip-torch
#
# It asks `python3` (or -DPython_EXECUTABLE) where torch is and which C++ ABI it was built with,
# and links its libraries, the CUDA ones where the wheel has them (so that shoal-train can train
# on the GPU). It does only that: pip's own TorchConfig.cmake also wants a CUDA toolkit and cuDNN
# that match the wheel's.
if(NOT Python_EXECUTABLE)
  set(Python_EXECUTABLE python3)
endif()
execute_process(
  COMMAND ${Python_EXECUTABLE} -c
          "import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
  OUTPUT_VARIABLE _shoal_torch OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _shoal_torch_rc)
if(NOT _shoal_torch_rc EQUAL 0)
  message(FATAL_ERROR "cmake/pip-torch: '${Python_EXECUTABLE} -c \"import torch\"' failed; install PyTorch with pip, "
                      "or use Debian's libtorch-dev without -DTorch_DIR")
endif()
string(REPLACE "\n" ";" _shoal_torch "${_shoal_torch}")
list(GET _shoal_torch 0 _shoal_torch_dir)
list(GET _shoal_torch 1 _shoal_torch_abi)
set(_shoal_torch_lib "${_shoal_torch_dir}/lib")
set(_shoal_torch_libs "${_shoal_torch_lib}/libtorch.so;${_shoal_torch_lib}/libtorch_cpu.so;${_shoal_torch_lib}/libc10.so")
if(EXISTS "${_shoal_torch_lib}/libtorch_cuda.so")
  # Linked even though nothing names a symbol of it: loading it registers the CUDA device.
  list(PREPEND _shoal_torch_libs -Wl,--no-as-needed ${_shoal_torch_lib}/libtorch_cuda.so ${_shoal_torch_lib}/libc10_cuda.so
       -Wl,--as-needed)
endif()
add_library(torch INTERFACE IMPORTED)
set_target_properties(torch PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${_shoal_torch_dir}/include;${_shoal_torch_dir}/include/torch/csrc/api/include"
  INTERFACE_LINK_LIBRARIES "${_shoal_torch_libs};-Wl,-rpath,${_shoal_torch_lib}"
  INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=${_shoal_torch_abi}")
set(TORCH_LIBRARIES torch)
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${_shoal_torch_abi}")
set(Torch_FOUND TRUE)
message(STATUS "cmake/pip-torch: libtorch of ${_shoal_torch_dir} (C++11 ABI ${_shoal_torch_abi})")
