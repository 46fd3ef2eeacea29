package cuda

// Backend runs lowered steps: a GPU (the cuda build's GPU) or, on any machine, the Emulator. Memory is
// two spaces (Space): the state, reserved for a training stage and shared by its programs, and one
// arena that every program runs in, one program at a time (grown to the largest program run so far).
// A Backend serves one goroutine at a time.
type Backend interface {
	// Reserve allocates the state space of n floats, zeroed, before any step addresses it; called
	// again, it frees the old state first (a new training stage).
	Reserve(n int64) error
	// Run executes steps with l's arena layout (l may be nil for steps that address only the state).
	Run(l *Lowered, steps []Step) error
	// Read and Write copy n floats between the host and place p; an arena place means what the last
	// program run left there.
	Read(p Ptr, n int64) ([]float32, error)
	Write(p Ptr, data []float32) error
	// MemInfo is the device memory free and in all, in bytes.
	MemInfo() (free, total int64, err error)
	// Name says what runs the steps, for reports.
	Name() string
	Close() error
}
