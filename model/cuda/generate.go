package cuda

//go:generate ../../tools/cuda/gen-ptx.sh
