package main

// Durable Raft state: etcd's wal (log entries and hard state, one fsync per Ready) and snap
// (snapshots) under --dir, mirrored into a raft.MemoryStorage that the raft core reads.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.etcd.io/etcd/etcdserver/api/snap"
	"go.etcd.io/etcd/raft"
	"go.etcd.io/etcd/raft/raftpb"
	"go.etcd.io/etcd/wal"
	"go.etcd.io/etcd/wal/walpb"
	"go.uber.org/zap"
)

type store struct {
	walDir      string
	snapDir     string
	wal         *wal.WAL
	snapshotter *snap.Snapshotter
	ms          *raft.MemoryStorage
	fresh       bool // --dir held no WAL: bootstrap (or join)
}

// openStore opens (creating on first use) the WAL and snapshot directories and replays them
// into a MemoryStorage: the newest snapshot that the WAL knows of, the hard state and every
// entry after the snapshot.
func openStore(lg *zap.Logger, dir string) (*store, error) {
	s := &store{walDir: filepath.Join(dir, "wal"), snapDir: filepath.Join(dir, "snap")}
	if err := os.MkdirAll(s.snapDir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create %s: %v", s.snapDir, err)
	}
	s.snapshotter = snap.New(lg, s.snapDir)
	s.fresh = !wal.Exist(s.walDir)
	if s.fresh {
		w, err := wal.Create(lg, s.walDir, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot create WAL in %s: %v", s.walDir, err)
		}
		w.Close()
	}
	walSnaps, err := wal.ValidSnapshotEntries(lg, s.walDir)
	if err != nil {
		return nil, fmt.Errorf("cannot read WAL snapshot records in %s: %v", s.walDir, err)
	}
	snapshot, err := s.snapshotter.LoadNewestAvailable(walSnaps)
	if err != nil && err != snap.ErrNoSnapshot {
		return nil, fmt.Errorf("cannot load snapshot from %s: %v", s.snapDir, err)
	}
	var ws walpb.Snapshot
	if snapshot != nil {
		ws.Index, ws.Term = snapshot.Metadata.Index, snapshot.Metadata.Term
	}
	s.wal, err = wal.Open(lg, s.walDir, ws)
	if err != nil {
		return nil, fmt.Errorf("cannot open WAL in %s: %v", s.walDir, err)
	}
	_, hs, ents, err := s.wal.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("cannot read WAL in %s: %v", s.walDir, err)
	}
	s.ms = raft.NewMemoryStorage()
	if snapshot != nil {
		if err := s.ms.ApplySnapshot(*snapshot); err != nil {
			return nil, err
		}
	}
	if err := s.ms.SetHardState(hs); err != nil {
		return nil, err
	}
	if err := s.ms.Append(ents); err != nil {
		return nil, err
	}
	return s, nil
}

// saveSnap makes a snapshot durable: the WAL record first (the WAL may only be opened at a
// snapshot it has a record of), then the snapshot file; WAL segments before it are unlocked so
// the purger may delete them.
func (s *store) saveSnap(sn raftpb.Snapshot) error {
	if err := s.wal.SaveSnapshot(walpb.Snapshot{Index: sn.Metadata.Index, Term: sn.Metadata.Term}); err != nil {
		return err
	}
	if err := s.snapshotter.SaveSnap(sn); err != nil {
		return err
	}
	return s.wal.ReleaseLockTo(sn.Metadata.Index)
}

// removeSnapDBs deletes the (empty) *.snap.db files that rafthttp's snapshot receiver writes:
// this sidecar carries the whole snapshot inside the Raft message.
func (s *store) removeSnapDBs() {
	names, _ := filepath.Glob(filepath.Join(s.snapDir, "*.snap.db"))
	for _, n := range names {
		os.Remove(n)
	}
}

// pruneSnaps keeps the newest `keep` snapshot files.
func (s *store) pruneSnaps(keep int) {
	names, _ := filepath.Glob(filepath.Join(s.snapDir, "*.snap"))
	sort.Strings(names) // names are <term>-<index> in fixed-width hex
	for len(names) > keep {
		if strings.HasSuffix(names[0], ".snap") {
			os.Remove(names[0])
		}
		names = names[1:]
	}
}

// The Raft snapshot's data is an envelope: the membership (addresses) as of the snapshot index,
// then the server's engine bytes (from SNAPSHOT_TAKEN), which SNAPSHOT_INSTALL hands back.
var envelopeMagic = []byte("TSLRAFT1")

func wrapSnapshot(m members, serverData []byte) []byte {
	mj := m.marshal()
	b := make([]byte, 0, len(envelopeMagic)+4+len(mj)+len(serverData))
	b = append(b, envelopeMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mj)))
	b = append(b, mj...)
	return append(b, serverData...)
}

func unwrapSnapshot(b []byte) (members, []byte, error) {
	if len(b) < len(envelopeMagic)+4 || !bytes.Equal(b[:len(envelopeMagic)], envelopeMagic) {
		return nil, nil, fmt.Errorf("snapshot data is not a sidecar snapshot envelope")
	}
	b = b[len(envelopeMagic):]
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("snapshot envelope: membership length %d exceeds %d", n, len(b))
	}
	m, err := unmarshalMembers(b[:n])
	if err != nil {
		return nil, nil, err
	}
	return m, b[n:], nil
}
