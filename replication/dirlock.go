package main

// One sidecar per --dir at a time. A member restarted at once (kill -9, or a graceful stop
// followed by a start) starts its new sidecar while the old one may still be syncing its WAL
// on the way out: etcd's WAL refuses a second opener ("file already locked") and the new
// member would exit. The new sidecar waits for the old one instead: an exclusive flock on
// dir/sidecar.lock, held for the life of the process (the kernel drops it at exit).

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// dirLock is never closed: the descriptor (and the lock) lives as long as the process.
var dirLock *os.File

func lockDir(lg *zap.Logger, dir string, wait time.Duration) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "sidecar.lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			dirLock = f
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return err
		}
		if time.Now().After(deadline) {
			f.Close()
			return errDirBusy
		}
		if !logged {
			lg.Warn("another ttl-semlock-raft still holds the data directory; waiting for it to exit",
				zap.String("dir", dir))
			logged = true
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type dirBusyError struct{}

func (dirBusyError) Error() string { return "still held by another ttl-semlock-raft" }

var errDirBusy error = dirBusyError{}
