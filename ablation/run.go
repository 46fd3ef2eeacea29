package ablation

// The engine: every cell × prompt × seed of a grid (or of one shard of it), resumable, one writer per
// folder. It works against infer.Model and a Loader, so it builds no graphs itself.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/atomicfile"
	"github.com/lumina-workbench/lumina/internal/folderlock"
	"github.com/lumina-workbench/lumina/sweep"
)

// Checkpoint is a loaded checkpoint as a sweep samples it.
type Checkpoint interface {
	infer.Model
	// TeaCoeffs is the checkpoint's fitted TeaCache polynomial, nil when it has none.
	TeaCoeffs() []float64
	Close() error
}

// Loader opens the checkpoints a grid names (cmd/lumina's builds the sampling pipeline).
type Loader interface {
	// Check vets a checkpoint for the settings that use it from what it can read cheaply (its header),
	// before any work: that it exists, has a TeaCache polynomial when a setting needs one, takes the
	// resolutions asked for, fits in memory.
	Check(path string, settings []Setting) error
	Load(path string) (Checkpoint, error)
}

// Options are a sweep's inputs.
type Options struct {
	Grid *Grid
	Dir  string
	// Shard is the part of the grid to run; the zero Shard is all of it.
	Shard Shard
	// Resume skips the images the folder's results already record; without it a folder that has results
	// is refused.
	Resume bool
	Loader Loader
	// OnEvent, if set, sees the sweep's progress (from the goroutine that called Run).
	OnEvent func(Event)
	// Report, if set, draws what a summary's numbers cannot show (plots, contact sheets) after a whole-grid
	// run or a Collect wrote summary.md and summary.csv.
	Report ReportFunc

	// crashAt, set by tests, stops the run right after the named write of an image ("image", "sidecar",
	// "half-line", "line"), as a kill at that moment would.
	crashAt func(point string, k Key) bool
}

// ReportFunc draws a finished sweep's pictures into dir.
type ReportFunc func(dir string, s *Summary, rs []Result) error

// Event is something a sweep reports while it runs.
type Event interface{ event() }

// Started opens a run: Done images were already in the folder, Pending remain.
type Started struct {
	Dir             string
	Shard           Shard
	Total           int // this shard's images
	Done, Pending   int
	DroppedTornLine bool // the last results line was cut short by a crash and its image is redone
	// TookOver is the writer that held the folder before and ended without releasing it, nil if none.
	TookOver *folderlock.Holder
}

// ImageDone is one more image on disk and recorded.
type ImageDone struct {
	Result Result
	// Done of Pending images of this run are finished, Elapsed after it began.
	Done, Pending int
	Elapsed       time.Duration
}

func (Started) event()   {}
func (ImageDone) event() {}

// Stats is what a run did.
type Stats struct {
	Images int
	// Elapsed is the whole run; Sampling the sum of the images' own wall times. The difference is the
	// sweep's overhead: loading checkpoints, scoring, writing images and records, the report.
	Elapsed, Sampling time.Duration
	// Summary is the whole grid's, written when the run completed it; nil for a shard.
	Summary *Summary
}

// ErrFolderInUse is the error of a sweep refused because another one writes the same folder (or shard).
var ErrFolderInUse = errors.New("sweep folder is in use by another writer")

func lockSpec(s Shard) folderlock.Spec {
	return folderlock.Spec{File: s.LockName(), Noun: "sweep folder", InUse: ErrFolderInUse,
		Advice: "Wait for that sweep to end, or stop it (Ctrl-C), then continue with --resume; or choose another --out"}
}

// job is one image to make.
type job struct {
	cell   Cell
	prompt toyeval.Prompt
	pi     int // prompt index
	seed   int
}

func (j job) key() Key { return Key{j.cell.ID, j.prompt.ID, j.seed} }

func (g *Grid) noiseSeed(pi, seed int) uint64 { return uint64(seed*len(g.Prompts) + pi) }

// jobs lists the shard's images in the order a run makes them: one checkpoint after another (the
// reference's first), so that one model is loaded at a time; within a checkpoint, (prompt, seed) pair
// after pair, and for each pair every cell, the reference first (the others are compared with its
// image). Interleaving the cells makes them share whatever else the machine is doing while the sweep
// runs, so a drift in its load does not pass for a difference in speed.
func (g *Grid) jobs(sh Shard) []job {
	ref := g.cells[g.Reference]
	var ckpts []string
	byCkpt := map[string][]Cell{ref.Setting.Ckpt: {ref}}
	ckpts = append(ckpts, ref.Setting.Ckpt)
	for _, c := range g.cells {
		if c.Index == ref.Index {
			continue
		}
		if _, ok := byCkpt[c.Setting.Ckpt]; !ok {
			ckpts = append(ckpts, c.Setting.Ckpt)
		}
		byCkpt[c.Setting.Ckpt] = append(byCkpt[c.Setting.Ckpt], c)
	}
	var out []job
	for _, ck := range ckpts {
		for s := range g.Seeds {
			for pi, pr := range g.Prompts {
				if !sh.Owns(int(g.noiseSeed(pi, s))) {
					continue
				}
				for _, c := range byCkpt[ck] {
					out = append(out, job{cell: c, prompt: pr, pi: pi, seed: s})
				}
			}
		}
	}
	return out
}

// Check refuses, writing nothing, what would make a sweep fail or damage a folder: a folder started
// with another grid, results from the other mode (a whole-grid run vs shards), results without
// Resume, a folder held by another writer, and checkpoints the Loader rejects.
func Check(o Options) error {
	if o.Grid == nil || o.Loader == nil || o.Dir == "" {
		return errors.New("ablation: a sweep needs a grid, a loader and a folder")
	}
	dir := o.Dir
	exists, err := sweep.StatOut(dir)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dir, GridFile)); err == nil {
		if string(b) != string(o.Grid.Marshal()) {
			return fmt.Errorf("sweep folder %s was started with another grid (%s): continue it with --grid %s --resume, or choose another --out",
				dir, filepath.Join(dir, GridFile), filepath.Join(dir, GridFile))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sweep folder %s: %w", dir, err)
	}
	if err := sweep.CheckMode(dir, resultsStem, resultsExt, o.Shard, "lumina ablate collect"); err != nil {
		return err
	}
	if !o.Resume {
		// The results file is made before the first image, so a sweep killed before its first line is
		// still one to resume.
		if _, err := os.Stat(filepath.Join(dir, resultsName(o.Shard))); err == nil {
			return fmt.Errorf("sweep folder %s already holds results (%s): pass --resume to continue it, or choose another --out",
				dir, resultsName(o.Shard))
		}
	}
	if err := folderlock.Check(dir, lockSpec(o.Shard)); err != nil {
		return err
	}
	if !o.Shard.Whole() {
		// A collect (or a whole-grid run) holds the folder's own lock while it writes the summary.
		if err := folderlock.Check(dir, lockSpec(Shard{})); err != nil {
			return err
		}
	}
	byCkpt := map[string][]Setting{}
	for _, c := range o.Grid.cells {
		byCkpt[c.Setting.Ckpt] = append(byCkpt[c.Setting.Ckpt], c.Setting)
	}
	ax := o.Grid.axis(KeyCkpt)
	for i, v := range ax.Values {
		if err := o.Loader.Check(v.Str, byCkpt[v.Str]); err != nil {
			return &GridError{File: o.Grid.File, Line: ax.Lines[i], Msg: fmt.Sprintf("ckpt %s: %v", v.Str, err)}
		}
	}
	// Last, since probing creates and removes a file: a refusal for any other reason touches nothing.
	return sweep.CheckOut(dir, exists)
}

// Run makes every image of the shard that the folder does not hold yet. After a whole-grid run it
// writes the summary (and o.Report's pictures); shards leave that to Collect.
func Run(ctx context.Context, o Options) (*Stats, error) {
	t0 := time.Now()
	if err := Check(o); err != nil {
		return nil, err
	}
	g, dir := o.Grid, o.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sweep folder %s: %w", dir, err)
	}
	lock, prev, err := folderlock.Acquire(dir, lockSpec(o.Shard))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	all := g.jobs(o.Shard)
	own := func(string) bool { return true }
	if !o.Shard.Whole() {
		mine := map[string]bool{}
		for _, j := range all {
			p := ImagePath(j.key())
			mine[p], mine[strings.TrimSuffix(p, ".png")+".json"] = true, true
		}
		own = func(target string) bool { return mine[target] }
	}
	if err := removeTemps(dir, true, own); err != nil {
		return nil, err
	}
	if err := writeOnce(filepath.Join(dir, GridFile), g.Marshal()); err != nil {
		return nil, err
	}
	resultsPath := filepath.Join(dir, resultsName(o.Shard))
	have, good, err := readResults(resultsPath)
	if err != nil {
		return nil, err
	}
	fi, _ := os.Stat(resultsPath)
	torn := fi != nil && fi.Size() > good
	wanted := map[Key]bool{}
	for _, j := range all {
		wanted[j.key()] = true
	}
	done := map[Key]bool{}
	for i, r := range have {
		if !wanted[r.Key()] || done[r.Key()] {
			return nil, fmt.Errorf("results %s line %d records image %s/%s seed %d, which this grid and shard do not make (or twice): the folder was written by another grid; choose another --out",
				resultsPath, i+1, r.Cell, r.PromptID, r.Seed)
		}
		done[r.Key()] = true
	}
	var pending []job
	for _, j := range all {
		if !done[j.key()] {
			pending = append(pending, j)
		}
	}
	emit := func(e Event) {
		if o.OnEvent != nil {
			o.OnEvent(e)
		}
	}
	emit(Started{Dir: dir, Shard: o.Shard, Total: len(all), Done: len(all) - len(pending), Pending: len(pending), DroppedTornLine: torn, TookOver: prev})
	app, err := sweep.OpenAppender(resultsPath, good)
	if err != nil {
		return nil, err
	}
	defer app.Close()
	w := &worker{o: o, app: app, refs: map[[2]int]*image.RGBA{}}
	defer w.closeModel()
	stats := &Stats{}
	runStart := time.Now()
	// Writing (fsyncs, mostly waiting on the disk) overlaps the next image's sampling: one image is
	// written while the next is made, so a kill loses at most those two.
	toWrite, written := make(chan made), make(chan error, len(pending))
	go w.writeAll(toWrite, written)
	var queue []Result // sent to the writer, not reported written yet
	finish := func(err error) error {
		if err != nil {
			return err
		}
		r := queue[0]
		queue = queue[1:]
		have = append(have, r)
		stats.Images++
		stats.Sampling += time.Duration(r.WallMs * float64(time.Millisecond))
		emit(ImageDone{Result: r, Done: stats.Images, Pending: len(pending), Elapsed: time.Since(runStart)})
		return nil
	}
	runErr := func() error {
		for _, j := range pending {
			m, err := w.make(ctx, j)
			if err != nil {
				return err
			}
			for drained := false; !drained; {
				select {
				case err := <-written:
					if err := finish(err); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			queue = append(queue, m.r)
			toWrite <- m
		}
		return nil
	}()
	close(toWrite)
	for err := range written {
		if e := finish(err); e != nil && runErr == nil {
			runErr = e
		}
	}
	if runErr != nil {
		return stats, runErr
	}
	w.closeModel()
	if o.Shard.Whole() {
		if stats.Summary, err = report(dir, g, have, o.Report); err != nil {
			return stats, err
		}
	}
	stats.Elapsed = time.Since(t0)
	return stats, nil
}

// errCrash is the simulated kill of the crash tests.
var errCrash = errors.New("simulated crash")

// worker makes images one at a time, keeping the current checkpoint and the reference images.
type worker struct {
	o     Options
	app   *sweep.Appender
	ckpt  string
	model Checkpoint
	refs  map[[2]int]*image.RGBA // reference image by (prompt index, seed)
}

func (w *worker) closeModel() {
	if w.model != nil {
		w.model.Close()
		w.model = nil
	}
}

func (w *worker) load(path string) error {
	if w.model != nil && w.ckpt == path {
		return nil
	}
	w.closeModel()
	m, err := w.o.Loader.Load(path)
	if err != nil {
		return fmt.Errorf("grid %s: ckpt %s: %w", w.o.Grid.File, path, err)
	}
	w.model, w.ckpt = m, path
	return nil
}

// refImage is the reference cell's image for prompt pi and seed: made earlier in this run, or read back
// from the folder.
func (w *worker) refImage(pi, seed int) (*image.RGBA, error) {
	if img, ok := w.refs[[2]int{pi, seed}]; ok {
		return img, nil
	}
	g := w.o.Grid
	k := Key{g.cells[g.Reference].ID, g.Prompts[pi].ID, seed}
	img, err := readPNG(filepath.Join(w.o.Dir, ImagePath(k)))
	if err != nil {
		return nil, fmt.Errorf("the reference image: %w (its results line is there: restore the image, or remove the line and resume)", err)
	}
	w.refs[[2]int{pi, seed}] = img
	return img, nil
}

// make samples and scores one image.
func (w *worker) make(ctx context.Context, j job) (made, error) {
	g, s := w.o.Grid, j.cell.Setting
	if err := w.load(s.Ckpt); err != nil {
		return made{}, err
	}
	opts := s.Options()
	opts.Seed = g.noiseSeed(j.pi, j.seed)
	if s.TeaCache > 0 {
		if opts.TeaCoeffs = w.model.TeaCoeffs(); opts.TeaCoeffs == nil {
			return made{}, fmt.Errorf("cell %s: teacache %g needs the checkpoint's TeaCache polynomial, and %s has none: run `lumina teacache fit --ckpt %s`",
				j.cell.ID, s.TeaCache, s.Ckpt, s.Ckpt)
		}
	}
	sys, err := infer.ParseSystem(s.System)
	if err != nil {
		return made{}, err
	}
	t0 := time.Now()
	gen, err := infer.Generate(ctx, w.model, infer.Spec{Prompt: j.prompt.Text, System: sys, Width: s.Res, Height: s.Res, Options: opts})
	wall := time.Since(t0)
	if err != nil {
		return made{}, fmt.Errorf("cell %s, prompt %s, seed %d: %w", j.cell.ID, j.prompt.ID, j.seed, err)
	}
	k := j.key()
	r := Result{Cell: k.Cell, Settings: s, PromptID: j.prompt.ID, Prompt: j.prompt.Text, Category: j.prompt.Category,
		Seed: j.seed, NoiseSeed: opts.Seed, NFE: gen.Result.NFE, Forwards: gen.Result.Forwards, Skips: gen.Result.MainSkipped,
		WallMs: float64(wall.Microseconds()) / 1000, Score: toyeval.ScoreImage(j.prompt, gen.Image), Clipped: Clipped(gen.Image),
		Sharpness: Sharpness(gen.Image), Image: ImagePath(k)}
	if j.cell.Index == g.Reference {
		w.refs[[2]int{j.pi, j.seed}] = gen.Image
	}
	ref, err := w.refImage(j.pi, j.seed)
	if err != nil {
		return made{}, err
	}
	if ref.Rect != gen.Image.Rect {
		// Cells at another resolution than the reference have no pixel-wise comparison.
		r.MSE = -1
	} else if r.MSE = MSE(gen.Image, ref); r.MSE > 0 {
		v := psnr(r.MSE)
		r.PSNR = &v
	}
	sc := gen.Sidecar
	sc.Category = j.prompt.Category
	if j.prompt.Category != toyeval.CatCustom {
		sc.ID, sc.Facts = j.prompt.ID, nil // a ToyEval prompt: the id is enough for `lumina eval --images`
	}
	sc.Settings["checkpoint"], sc.Settings["cell"], sc.Settings["seed_index"] = s.Ckpt, j.cell.ID, j.seed
	return made{r: r, img: gen.Image, sidecar: sc}, nil
}

// made is an image sampled and scored, to be written.
type made struct {
	r       Result
	img     *image.RGBA
	sidecar toyeval.ImageSidecar
}

// write puts an image on disk and then records it: the PNG, its sidecar, then its results line, so
// the results never name an image that is not complete.
func (w *worker) write(m made) error {
	path := filepath.Join(w.o.Dir, m.r.Image)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sweep folder %s: %w", w.o.Dir, err)
	}
	crash := func(point string) bool { return w.o.crashAt != nil && w.o.crashAt(point, m.r.Key()) }
	if err := dataset.WritePNG(path, m.img); err != nil {
		return err
	}
	if crash("image") {
		return errCrash
	}
	if err := toyeval.WriteImageSidecar(strings.TrimSuffix(path, ".png")+".json", m.sidecar); err != nil {
		return err
	}
	if crash("sidecar") {
		return errCrash
	}
	if crash("half-line") {
		w.app.Cut = func(b []byte) ([]byte, error) { return b[:len(b)/2], errCrash }
	}
	if err := w.app.Append(m.r); err != nil {
		return err
	}
	if crash("line") {
		return errCrash
	}
	return nil
}

// writeAll runs write for each image received on in, in order, and reports each on out (nil error:
// recorded). After the first error it writes nothing more, but still drains in.
func (w *worker) writeAll(in <-chan made, out chan<- error) {
	var failed bool
	for m := range in {
		if failed {
			continue
		}
		err := w.write(m)
		failed = err != nil
		out <- err
	}
	close(out)
}

func readPNG(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if rgba, ok := img.(*image.RGBA); ok {
		return rgba, nil
	}
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out, nil
}

// writeOnce writes path atomically unless it already holds data (Check compared it).
func writeOnce(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return dataset.WriteFileAtomic(path, data)
}

// removeTemps removes what writes interrupted by a kill left under root (only in root itself unless
// recursive), of the targets own accepts (paths relative to root): the shards of a job array share the
// image folders, and each removes only its own images' temporary files.
func removeTemps(root string, recursive bool, own func(target string) bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !atomicfile.IsTemp(name) {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Join(filepath.Dir(p), name[1:strings.LastIndex(name, ".tmp")]))
		if !own(rel) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sweep folder %s: remove an interrupted write: %w", root, err)
		}
		return nil
	})
}
