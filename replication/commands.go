package main

// The server's side of the sidecar: frames to the server (Output), the fd-3 reader's dispatch
// (Input) and the commands run() executes for it (membership, reads, snapshots, resync).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/raft"
	"go.etcd.io/etcd/raft/raftpb"
	"go.uber.org/zap"
)

// Output --------------------------------------------------------------------------------------

func (s *sidecar) send(b []byte) { s.out <- b }

func (s *sidecar) proposeFailed(tag uint64, reason string) {
	e := newEncoder(msgProposeFailed, 12+len(reason))
	e.u64(tag)
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) confResult(tag uint64, ok bool, reason string) {
	e := newEncoder(msgConfResult, 13+len(reason))
	e.u64(tag)
	if ok {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) readFailed(tag uint64, reason string) {
	e := newEncoder(msgReadIndexFailed, 12+len(reason))
	e.u64(tag)
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) currentStatus() status {
	return status{
		leader: s.soft.Lead, term: s.term, role: s.soft.RaftState,
		commit: s.commit, applied: s.delivered, mem: string(s.mem.marshal()),
	}
}

// sendStatus sends STATUS when it differs from the last one sent; `urgent` restricts that to
// changes of leader, term, role or membership (commit/applied progress waits for the tick).
func (s *sidecar) sendStatus(urgent bool) {
	cur := s.currentStatus()
	last := s.lastStatus
	if s.statusSent {
		if cur == last {
			return
		}
		if urgent && cur.leader == last.leader && cur.term == last.term && cur.role == last.role &&
			cur.mem == last.mem {
			return
		}
	}
	s.lastStatus, s.statusSent = cur, true
	e := newEncoder(msgStatus, 64+len(cur.mem))
	e.u64(s.o.id)
	e.u64(cur.leader)
	e.u64(cur.term)
	e.u8(byte(cur.role))
	e.u64(cur.commit)
	e.u64(cur.applied)
	ids := s.mem.sortedIDs()
	e.u32(uint32(len(ids)))
	for _, id := range ids {
		e.u64(id)
		e.str(s.mem[id].Raft)
		e.str(s.mem[id].Client)
	}
	s.send(e.finish())
}

// Input -----------------------------------------------------------------------------------------

// handleFrame runs on the reader goroutine. PROPOSE goes straight to raft; the rest is queued
// for run(). A malformed payload is returned as a protocol error.
func (s *sidecar) handleFrame(f frame) error {
	s.serverSeen.Store(time.Now().UnixNano())
	d := &decoder{b: f.payload}
	switch f.typ {
	case msgPing:
		if err := d.done("PING"); err != nil {
			return err
		}
		s.serverPings.Store(true)
		return nil
	case msgPropose:
		tag := d.u64("tag")
		data := d.bytes("data")
		if err := d.done("PROPOSE"); err != nil {
			return err
		}
		s.propose(tag, data)
		return nil
	case msgConfChange:
		d.u64("tag")
		op := d.u8("op")
		d.u64("id")
		d.bytes("raft")
		d.bytes("client")
		if err := d.done("CONF_CHANGE"); err != nil {
			return err
		}
		if op != 1 && op != 2 {
			return &protocolError{"malformed CONF_CHANGE frame: op " + strconv.Itoa(int(op)) + " (1 add, 2 remove)"}
		}
	case msgSnapshotTaken:
		d.u64("index")
		d.bytes("path")
		if err := d.done("SNAPSHOT_TAKEN"); err != nil {
			return err
		}
	case msgReadIndex:
		d.u64("tag")
		if err := d.done("READ_INDEX"); err != nil {
			return err
		}
	case msgResync:
		if err := d.done("RESYNC"); err != nil {
			return err
		}
	case msgTransfer:
		d.u64("target")
		if err := d.done("TRANSFER"); err != nil {
			return err
		}
	}
	s.cmds <- f
	return nil
}

func (s *sidecar) propose(tag uint64, data []byte) {
	if !s.isLeader.Load() {
		s.proposeFailed(tag, "not leader")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.electionTO)
	err := s.node.Propose(ctx, data)
	cancel()
	switch {
	case err == raft.ErrProposalDropped:
		s.proposeFailed(tag, "not leader")
	case err == context.DeadlineExceeded:
		s.proposeFailed(tag, "timeout (no leader)")
	case err != nil:
		s.proposeFailed(tag, err.Error())
	}
}

// Commands from the server ------------------------------------------------------------------

func (s *sidecar) handleCommand(f frame) {
	d := &decoder{b: f.payload}
	switch f.typ {
	case msgConfChange:
		tag, op, id := d.u64("tag"), d.u8("op"), d.u64("id")
		raftAddr, client := string(d.bytes("raft")), string(d.bytes("client"))
		s.confChange(tag, op, id, raftAddr, client)
	case msgSnapshotTaken:
		index, path := d.u64("index"), string(d.bytes("path"))
		s.snapshotTaken(index, path)
	case msgReadIndex:
		tag := d.u64("tag")
		if !s.hasLead.Load() {
			s.readFailed(tag, "no leader")
			return
		}
		if _, dup := s.reads[tag]; dup {
			s.readFailed(tag, "duplicate tag")
			return
		}
		s.reads[tag] = pending{deadline: time.Now().Add(s.o.requestTimeout)}
		var rctx [8]byte
		binary.LittleEndian.PutUint64(rctx[:], tag)
		if err := s.node.ReadIndex(context.Background(), rctx[:]); err != nil {
			delete(s.reads, tag)
			s.readFailed(tag, err.Error())
		}
	case msgResync:
		s.resync()
	case msgTransfer:
		target := d.u64("target")
		s.node.TransferLeadership(context.Background(), s.soft.Lead, target)
	}
}

func (s *sidecar) confChange(tag uint64, op byte, id uint64, raftAddr, client string) {
	if s.soft.RaftState != raft.StateLeader {
		s.confResult(tag, false, "not leader")
		return
	}
	if id == 0 || id > 1<<63 {
		s.confResult(tag, false, "member id must be in 1..2^63")
		return
	}
	if _, dup := s.confs[tag]; dup {
		s.confResult(tag, false, "duplicate tag")
		return
	}
	if len(s.confs) > 0 {
		s.confResult(tag, false, "another membership change is in progress")
		return
	}
	_, isMember := s.mem[id]
	cc := raftpb.ConfChange{NodeID: id}
	switch op {
	case 1:
		if isMember {
			s.confResult(tag, false, "member "+strconv.FormatUint(id, 10)+" already exists")
			return
		}
		if raftAddr == "" {
			s.confResult(tag, false, "a new member needs a raft address")
			return
		}
		cc.Type = raftpb.ConfChangeAddNode
	case 2:
		if !isMember {
			s.confResult(tag, false, "member "+strconv.FormatUint(id, 10)+" does not exist")
			return
		}
		if len(s.mem) == 1 {
			s.confResult(tag, false, "cannot remove the last member")
			return
		}
		cc.Type = raftpb.ConfChangeRemoveNode
		if a := s.mem[id]; raftAddr == "" {
			raftAddr, client = a.Raft, a.Client
		}
	}
	cc.Context, _ = json.Marshal(ccContext{Raft: raftAddr, Client: client, Proposer: s.o.id, Tag: tag})
	s.confs[tag] = pending{deadline: time.Now().Add(s.o.requestTimeout)}
	// ProposeConfChange blocks while raft has no leader; keep the loop free.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.o.requestTimeout)
		defer cancel()
		if err := s.node.ProposeConfChange(ctx, cc); err != nil {
			reason := err.Error()
			if err == raft.ErrProposalDropped {
				reason = "not leader"
			}
			s.confFailC <- confFail{tag: tag, reason: reason}
		}
	}()
}

// leaderWatchdog bounds how long a cut-off leader keeps believing it leads. etcd's raft checks
// quorum activity once per election timeout (CheckQuorum), on a schedule of its own, so a
// leader cut off just after a check would lead for up to two election timeouts. Once this
// leader has heard nothing from a majority for an election timeout less one heartbeat, its
// logical clock is advanced by an election timeout, which makes raft run that same check now
// (and, if a message from before the cut still counted, again on the next tick). Raft's safety
// does not depend on tick timing; followers still wait at least an election timeout before
// electing.
func (s *sidecar) leaderWatchdog(now time.Time) {
	if s.soft.RaftState != raft.StateLeader {
		return
	}
	voters := s.mem.sortedIDs()
	active, self := 0, false
	// One heartbeat short of an election timeout: the leader is gone before any follower,
	// which waits at least an election timeout after its last heartbeat, can campaign.
	window := s.electionTO - time.Duration(s.o.heartbeatMs)*time.Millisecond
	s.heardMu.Lock()
	for _, id := range voters {
		if id == s.o.id {
			self = true
			active++
		} else if t, ok := s.heard[id]; ok && now.Sub(t) < window {
			active++
		}
	}
	s.heardMu.Unlock()
	if !self || active >= len(voters)/2+1 {
		return
	}
	ticks := s.o.electionMs / s.o.heartbeatMs
	if ticks > 64 {
		ticks = 64 // raft's tick channel holds 128
	}
	for i := 0; i < ticks; i++ {
		s.node.Tick()
	}
}

// expire fails READ_INDEX and CONF_CHANGE requests older than --request-timeout-ms. A conf
// change that times out may still commit later (its outcome is then visible in ENTRIES).
func (s *sidecar) expire(now time.Time) {
	for tag, p := range s.reads {
		if now.After(p.deadline) {
			delete(s.reads, tag)
			s.readFailed(tag, "timeout")
		}
	}
	for tag, p := range s.confs {
		if now.After(p.deadline) {
			delete(s.confs, tag)
			s.confResult(tag, false, "timeout (the change may still commit; check the membership)")
		}
	}
}

func (s *sidecar) failReads(reason string) {
	for tag := range s.reads {
		delete(s.reads, tag)
		s.readFailed(tag, reason)
	}
}

// resync sends the committed state from scratch: the latest snapshot (if any), then every
// committed entry after it, then new entries as they commit.
func (s *sidecar) resync() {
	sn, err := s.st.ms.Snapshot()
	if err != nil {
		fatalf(exitFatal, "reading snapshot: %v", err)
	}
	s.resynced = true
	if !raft.IsEmptySnap(sn) {
		_, data, err := unwrapSnapshot(sn.Data)
		if err != nil {
			fatalf(exitFatal, "snapshot at index %d: %v", sn.Metadata.Index, err)
		}
		s.sendSnapshotInstall(sn.Metadata.Index, sn.Metadata.Term, data)
	}
	s.delivered = sn.Metadata.Index
	for lo := sn.Metadata.Index + 1; lo <= s.applied; {
		ents, err := s.st.ms.Entries(lo, s.applied+1, entriesFrameBytes)
		if err != nil {
			fatalf(exitFatal, "reading entries %d..%d: %v", lo, s.applied, err)
		}
		data := make([][]byte, len(ents))
		for i, e := range ents {
			data[i] = e.Data
			if e.Type == raftpb.EntryConfChange {
				data[i] = confChangeEntryData(e, s.memBefore(e.Index))
			}
		}
		s.sendEntries(ents, data)
		lo = ents[len(ents)-1].Index + 1
		s.delivered = ents[len(ents)-1].Index
	}
	s.sendStatus(false)
}

// memBefore is the membership just before index i (for a remove's addresses on RESYNC).
func (s *sidecar) memBefore(i uint64) members {
	m := s.hist[0].mem
	for _, h := range s.hist {
		if h.index >= i {
			break
		}
		m = h.mem
	}
	return m
}

// confChangeEntryData rebuilds the ENTRIES JSON of a conf change already applied.
func confChangeEntryData(e raftpb.Entry, before members) []byte {
	var cc raftpb.ConfChange
	if err := cc.Unmarshal(e.Data); err != nil {
		return []byte(`{"op":"v2"}`)
	}
	var ctx ccContext
	_ = json.Unmarshal(cc.Context, &ctx)
	out := ccEntryData{ID: strconv.FormatUint(cc.NodeID, 10), Raft: ctx.Raft, Client: ctx.Client}
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		out.Op = "add"
	case raftpb.ConfChangeRemoveNode:
		out.Op = "remove"
		if a, ok := before[cc.NodeID]; ok && out.Raft == "" {
			out.Raft, out.Client = a.Raft, a.Client
		}
	default:
		out.Op = "update"
	}
	b, _ := json.Marshal(out)
	return b
}

// snapshotTaken saves the server's engine state as the Raft snapshot at `index` and compacts
// the log, keeping --catchup-entries entries before it for slightly lagging followers.
func (s *sidecar) snapshotTaken(index uint64, path string) {
	if index <= s.snapIndex {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: not newer than the current snapshot",
			zap.Uint64("index", index), zap.Uint64("snapshot-index", s.snapIndex))
		return
	}
	if index > s.applied {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: index not yet committed here",
			zap.Uint64("index", index), zap.Uint64("applied", s.applied))
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: cannot read the file", zap.String("path", path), zap.Error(err))
		return
	}
	at := s.hist[0]
	keep := 0
	for i, h := range s.hist {
		if h.index <= index {
			at, keep = h, i
		}
	}
	sn, err := s.st.ms.CreateSnapshot(index, &at.cs, wrapSnapshot(at.mem, data))
	if err != nil {
		s.lg.Warn("SNAPSHOT_TAKEN ignored", zap.Uint64("index", index), zap.Error(err))
		return
	}
	if err := s.st.saveSnap(sn); err != nil {
		fatalf(exitFatal, "saving snapshot at index %d failed: %v", index, err)
	}
	s.snapIndex = index
	s.hist = s.hist[keep:]
	s.hist[0].index = index
	if index > s.o.catchupEntries {
		if err := s.st.ms.Compact(index - s.o.catchupEntries); err != nil && err != raft.ErrCompacted {
			s.lg.Warn("log compaction failed", zap.Error(err))
		}
	}
	s.st.pruneSnaps(3)
	os.Remove(path)
}
