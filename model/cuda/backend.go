package cuda

// Backend runs lowered steps: a GPU (the cuda build's GPU) or, on any machine, the Emulator. Memory is
// two spaces (Space): a state space reserved once, shared by every program, and one arena per program.
type Backend interface {
	// Reserve allocates the state space of n floats, once, before any step addresses it; it starts
	// zeroed.
	Reserve(n int64) error
	// Run executes steps in l's arena (allocated at l.Size floats on first use, kept until Release);
	// l may be nil for steps that address only the state space.
	Run(l *Lowered, steps []Step) error
	// Read and Write copy n floats between the host and place p (p's arena being l's).
	Read(l *Lowered, p Ptr, n int64) ([]float32, error)
	Write(l *Lowered, p Ptr, data []float32) error
	// Release frees l's arena.
	Release(l *Lowered)
	// Name says what runs the steps, for reports.
	Name() string
	Close() error
}
