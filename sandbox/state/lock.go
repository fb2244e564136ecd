package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// ErrLocked is returned by Open when another process holds the journal:
// two servers appending to one file would interleave their records and
// each would replay only its own view at the next start.
var ErrLocked = errors.New("state file in use")

// lockFile is the exclusive lock on a journal: FILE.lock beside it, held
// (flock) for as long as the journal is open. A lock file rather than the
// journal itself because Compact replaces the journal by rename, and a
// lock on the old inode would no longer exclude anyone. The file holds a
// line naming the holder, for the message a second process gets.
type lockFile struct {
	f *os.File
}

// maxHolderBytes bounds what is read back from a lock file: it is only
// ever a short line, and a message should not echo an arbitrary file.
const maxHolderBytes = 256

func acquireLock(path string) (*lockFile, error) {
	lpath := path + ".lock"
	f, err := os.OpenFile(lpath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock journal %s: %w", lpath, err)
	}
	if !ok {
		holder := readHolder(f)
		f.Close()
		if holder == "" {
			holder = "another process"
		}
		return nil, fmt.Errorf("%w: %s is in use by %s", ErrLocked, path, holder)
	}
	l := &lockFile{f: f}
	if err := l.announce(fmt.Sprintf("pid %d", os.Getpid())); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// announce replaces the holder line. The lock does not depend on it: a
// stale line left by a killed process is overwritten by the next holder.
func (l *lockFile) announce(holder string) error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("lock journal: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(holder+"\n"), 0); err != nil {
		return fmt.Errorf("lock journal: %w", err)
	}
	return nil
}

func (l *lockFile) release() error {
	// closing the descriptor drops the flock; the file stays, as removing
	// it would race with a process that has just opened it
	return l.f.Close()
}

// readHolder returns the holder line, cleaned of anything unprintable.
func readHolder(f *os.File) string {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, maxHolderBytes))
	s := strings.TrimSpace(string(b))
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}

// Announce records in the lock file the address the holder listens on,
// so a second server on the same file can say which one is running.
func (j *Journal) Announce(listen string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errors.New("announce: journal closed")
	}
	return j.lock.announce(fmt.Sprintf("pid %d (listening on %s)", os.Getpid(), listen))
}
