package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// ErrCorrupt is returned by Open when a damaged line (unparseable, or its
// checksum does not match) is followed by good records: that is not the
// torn tail a crash leaves, and dropping the records after it would lose
// acknowledged changes. The error names the damaged record's byte offset
// and how many good records follow it.
var ErrCorrupt = errors.New("journal damaged before its end")

// Journal is an append-only file of records, one JSON object per line.
// It is safe for concurrent use by one process; Open locks the file
// against other processes.
type Journal struct {
	path string
	lock *lockFile // held until Close
	sync func(*os.File) error
	now  func() time.Time // when revocations expire, at compaction

	// syncMu serializes fsyncs and compactions, taken before mu: a writer
	// waiting for its record to be durable waits here, not on mu, so Write
	// (which callers make under their own locks) never waits for a disk
	// flush, and no compaction replaces the file under a running fsync.
	syncMu sync.Mutex

	mu     sync.Mutex
	f      *os.File
	end    int64 // length of the good records; appends go here
	closed bool
	torn   *TornTail // what Open cut, if anything
	// written counts the bytes ever written by Write and synced how many
	// of them an fsync has covered; they are not file offsets, so they
	// stay comparable across compactions.
	written, synced int64
	// failed is the first fsync failure: after it what the file holds is
	// unknown (the kernel may have dropped the dirty pages), so every
	// later record is refused rather than acknowledged on top of a hole.
	// The records written since the last good sync are cut off the file
	// (best effort, see Commit), so a restart does not bring back writes
	// that were answered as failed.
	failed error
	// syncedEnd is the file offset up to which an fsync (or the
	// compaction that wrote the file) has covered the records.
	syncedEnd int64

	// set by Compact: the journal compacts itself when it has doubled
	autoCompact bool
	initial     []tenant.Tenant // for Load, see Compact
	compacted   int64           // size after the last compaction
	compactErr  func(error)     // told of a failed automatic compaction
}

// Option configures a Journal.
type Option func(*Journal)

// WithSync replaces the fsync of written records (default
// (*os.File).Sync); tests use it to make a disk slow or failing.
func WithSync(sync func(*os.File) error) Option {
	return func(j *Journal) { j.sync = sync }
}

// WithNow sets the clock compaction judges expired revocations by
// (default time.Now).
func WithNow(now func() time.Time) Option {
	return func(j *Journal) { j.now = now }
}

// Open opens (creating it if needed) the journal at path. A torn last
// record, as a crash in the middle of an append leaves, is cut off the
// file; damage followed by good records is ErrCorrupt. The journal is
// locked (FILE.lock) until Close: a journal another process holds is
// ErrLocked.
func Open(path string, opts ...Option) (*Journal, error) {
	lock, err := acquireLock(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{path: path, lock: lock, f: f, sync: (*os.File).Sync, now: time.Now}
	for _, o := range opts {
		o(j)
	}
	if err := j.recover(); err != nil {
		f.Close()
		lock.release()
		return nil, err
	}
	return j, nil
}

// recover finds the end of the good records and cuts anything after it.
func (j *Journal) recover() error {
	fi, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	end, torn, err := scan(io.NewSectionReader(j.f, 0, fi.Size()), nil)
	if err != nil {
		return fmt.Errorf("open journal %s: %w", j.path, err)
	}
	j.torn = torn
	if end < fi.Size() {
		if err := j.f.Truncate(end); err != nil {
			return fmt.Errorf("open journal: cut torn tail: %w", err)
		}
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
	}
	if fi.Size() == 0 {
		// A new file's directory entry must be durable too.
		if err := syncDir(filepath.Dir(j.path)); err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
	}
	j.end, j.syncedEnd = end, end
	return nil
}

// TornTail is what Open cut off the end of a journal: the last record,
// damaged or unterminated, as a crash in the middle of an append leaves.
// It was never acknowledged, so nothing is lost, but the server logs it.
type TornTail struct {
	Offset int64  // where the cut record started
	Bytes  int64  // how much was cut
	Reason string // why the record did not load
}

// scan reads records from r, calling fn (when not nil) with each good one,
// and returns the length of the good prefix and, when the end was
// damaged, what is to be cut. A damaged line (unparseable, checksum
// mismatch, unterminated) followed by a good record is ErrCorrupt, naming
// the damaged record's byte offset and how many good records follow it.
func scan(r io.Reader, fn func(Record) error) (int64, *TornTail, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off, bad int64 = 0, -1
	var badErr error
	badLine, after := 0, 0
	for n := 1; ; n++ {
		line, complete, err := readLine(br)
		if err != nil {
			return 0, nil, fmt.Errorf("read line %d: %w", n, err)
		}
		if len(line) == 0 && !complete {
			break // EOF
		}
		size := int64(len(line))
		if complete {
			size++
		}
		var rec Record
		var derr error = errors.New("unterminated line")
		if complete && len(line) <= MaxRecordBytes {
			rec, derr = decode(line)
		}
		switch {
		case derr != nil:
			if bad < 0 {
				bad, badErr, badLine = off, derr, n
			}
		case bad >= 0:
			// keep counting, so the refusal says what starting would cost
			after++
		case fn != nil:
			if err := fn(rec); err != nil {
				return 0, nil, fmt.Errorf("line %d (%s): %w", n, rec.Kind, err)
			}
		}
		off += size
	}
	if bad < 0 {
		return off, nil, nil
	}
	if after > 0 {
		return 0, nil, fmt.Errorf("%w: record at byte offset %d (line %d) is damaged (%v) and %d good records after it would be dropped; repair or remove the file", ErrCorrupt, bad, badLine, badErr, after)
	}
	return bad, &TornTail{Offset: bad, Bytes: off - bad, Reason: badErr.Error()}, nil
}

// readLine returns the next line without its newline and whether it had
// one. Lines longer than MaxRecordBytes are returned cut to
// MaxRecordBytes+1 bytes (so they fail to decode) and fully consumed.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf) <= MaxRecordBytes {
			keep := min(len(chunk), MaxRecordBytes+1-len(buf))
			buf = append(buf, chunk[:keep]...)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte{'\n'}), true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return buf, false, nil
		default:
			return nil, false, err
		}
	}
}

// Torn reports what Open cut off the end of the file, if anything.
func (j *Journal) Torn() (TornTail, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.torn == nil {
		return TornTail{}, false
	}
	return *j.torn, true
}

// Replay calls fn with every record, oldest first. It stops at the first
// error of fn and returns it.
func (j *Journal) Replay(fn func(Record) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.replayLocked(fn)
}

func (j *Journal) replayLocked(fn func(Record) error) error {
	if j.closed {
		return errors.New("replay: journal closed")
	}
	if _, _, err := scan(io.NewSectionReader(j.f, 0, j.end), fn); err != nil {
		return fmt.Errorf("replay %s: %w", j.path, err)
	}
	return nil
}

// Append writes rec and syncs it to disk before returning: once Append
// returns nil the record survives a crash. It is Write then Commit.
func (j *Journal) Append(rec Record) error {
	mark, err := j.Write(rec)
	if err != nil {
		return err
	}
	return j.Commit(mark)
}

// Write adds rec to the file without waiting for the disk, and returns
// the mark Commit takes. Records are ordered as Write is called, so a
// caller keeping its own order (a store, under its write lock) writes
// under its lock and commits after releasing it. On failure nothing of
// rec remains in the file. A written record is not durable, and must not
// be acknowledged, until Commit(mark) returns nil.
func (j *Journal) Write(rec Record) (int64, error) {
	line, err := encode(rec)
	if err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, errors.New("append: journal closed")
	}
	if j.failed != nil {
		return 0, fmt.Errorf("append: an earlier sync failed: %w", j.failed)
	}
	if _, err := j.f.WriteAt(line, j.end); err != nil {
		return 0, j.undo(fmt.Errorf("append: %w", err))
	}
	j.end += int64(len(line))
	j.written += int64(len(line))
	return j.written, nil
}

// Commit returns once every record up to mark is on disk. One fsync
// covers every record written before it started (group commit): writers
// that arrive while a sync runs share the next one. A journal that has
// doubled since its last compaction compacts itself here, after the sync
// and under syncMu, so no fsync runs on the file it replaces and no
// caller's lock is held while it rewrites the file.
func (j *Journal) Commit(mark int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	if j.synced >= mark {
		j.mu.Unlock()
		return nil
	}
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return fmt.Errorf("append: sync: %w", err)
	}
	if j.closed {
		j.mu.Unlock()
		return errors.New("append: journal closed before its records were synced")
	}
	f, target, targetEnd := j.f, j.written, j.end
	j.mu.Unlock()
	err := j.sync(f) // without mu: Write goes on while the disk flushes
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.failed = err
		// Nothing after the last good sync was acknowledged, and none of
		// it will be (failed refuses every later commit): cut it, so the
		// file holds exactly the acknowledged records and a restart
		// agrees with what the callers were told. If even that fails
		// the file may hold unacknowledged records; say so.
		if cerr := j.cutUnsynced(); cerr != nil {
			return fmt.Errorf("append: sync: %w (and cutting the unsynced records failed: %w)", err, cerr)
		}
		return fmt.Errorf("append: sync: %w", err)
	}
	j.synced = max(j.synced, target)
	j.syncedEnd = max(j.syncedEnd, targetEnd)
	if j.compactDue() {
		// the record is durable already: a failed compaction leaves
		// the old file whole and is only reported; the next try waits
		// for the next doubling
		if err := j.compactLocked(); err != nil {
			j.compacted = j.end
			if j.compactErr != nil {
				j.compactErr(err)
			}
		}
	}
	return nil
}

// cutUnsynced truncates the file to its synced records and syncs that.
// j.mu must be held.
func (j *Journal) cutUnsynced() error {
	if j.end == j.syncedEnd {
		return nil
	}
	if err := j.f.Truncate(j.syncedEnd); err != nil {
		return err
	}
	j.end = j.syncedEnd
	return j.sync(j.f)
}

// Failed returns the fsync failure that stopped the journal, if any:
// from then on every write is refused until the server restarts.
func (j *Journal) Failed() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// OnCompactError sets the function told of a failed automatic compaction
// (the append that triggered it has succeeded; the old file stands).
func (j *Journal) OnCompactError(fn func(error)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.compactErr = fn
}

// undo cuts a failed append off the file so the next one starts clean.
func (j *Journal) undo(err error) error {
	if terr := j.f.Truncate(j.end); terr != nil {
		return errors.Join(err, fmt.Errorf("cut failed append: %w", terr))
	}
	return err
}

// Size returns the length of the journal in bytes.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.end
}

// Close closes the file. Appends after Close fail.
func (j *Journal) Close() error {
	j.syncMu.Lock() // not under a running sync
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return errors.Join(j.f.Close(), j.lock.release())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
