package pipeline

import (
	"fmt"
	"io"
	"sync"
)

// DefaultMaxLog is the log cap when Command.MaxLog is 0.
const DefaultMaxLog = 10 << 20

// logCapture copies a build's output into its log file as it comes, up to
// max bytes. Past the cap it writes one marker line and goes on reading and
// dropping, so that a build that keeps writing never blocks on a full pipe.
// Writes go straight to the file, so the log can be read during the run.
type logCapture struct {
	f         fdFile
	max       int64 // < 0: no cap
	n         int64 // bytes of output written
	truncated bool
	err       error   // first write error; output after it is dropped
	mask      *masker // nil: nothing masked
}

// truncMarker is the line written once when output reaches max.
func truncMarker(max int64) string {
	return fmt.Sprintf("\n[hooktrigger: log truncated at %d bytes]\n", max)
}

// note writes a line of hooktrigger's own, outside the cap.
func (c *logCapture) note(format string, args ...any) {
	if c.err != nil {
		return
	}
	if _, err := fmt.Fprintf(c.f, "[hooktrigger: "+format+"]\n", args...); err != nil {
		c.err = err
	}
}

// write stores p within the cap, masked values replaced (the end of p may
// wait for the next write, or for end).
func (c *logCapture) write(p []byte) {
	if c.mask != nil {
		p = c.mask.mask(p)
	}
	c.store(p)
}

// end stores what the masker held back: the output is over.
func (c *logCapture) end() {
	if c.mask != nil {
		c.store(c.mask.flush())
	}
}

// store writes p within the cap.
func (c *logCapture) store(p []byte) {
	if c.err != nil || c.truncated {
		return
	}
	if c.max >= 0 && c.n+int64(len(p)) > c.max {
		p = p[:c.max-c.n]
		c.truncated = true
	}
	if len(p) > 0 {
		if _, err := c.f.Write(p); err != nil {
			c.err = err
			return
		}
		c.n += int64(len(p))
	}
	if c.truncated {
		if _, err := io.WriteString(c.f, truncMarker(c.max)); err != nil {
			c.err = err
		}
	}
}

// drainBufs holds drain's read buffers between runs: a fresh 32 KiB per
// run was most of the memory a run allocates, and so of the garbage
// collections a burst of runs causes.
var drainBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// drain reads r until it ends or fails, writing what it reads.
func (c *logCapture) drain(r io.Reader) {
	b := drainBufs.Get().(*[32 << 10]byte)
	defer drainBufs.Put(b)
	buf := b[:]
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.write(buf[:n])
		}
		if err != nil {
			c.end()
			return
		}
	}
}
