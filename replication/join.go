package main

// Bootstrap or join. A member whose --dir is empty either founds the group from --members
// (every founding member does the same, and their logs agree) or joins a group that already
// has a log (after SEMLOCK.CLUSTER ADD). Founding a group a second time would be fatal: the
// newcomer would commit its own bootstrap entries at indices the group already used. So a
// fresh member named in --members first asks its peers, over the raft listener, whether any
// of them has a log; if one has, it joins (starts empty and lets the leader send it a snapshot
// or the log; an empty log never wins an election, so joining is safe even in a new group).
// Only when no peer has a log within the probe window does it bootstrap.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/raft"
)

const logProbePath = "/ttlsemlock/log"

type logProbe struct {
	ID        string `json:"id"`
	LastIndex uint64 `json:"last_index"`
}

// probeHandler answers a peer's question "do you have a log?".
func probeHandler(id uint64, ms *raft.MemoryStorage) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		li, _ := ms.LastIndex()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(logProbe{ID: strconv.FormatUint(id, 10), LastIndex: li})
	}
}

// raftGate serves rafthttp once the node exists (peers retry a 503 meanwhile).
type raftGate struct {
	h atomic.Value // http.Handler
}

func (g *raftGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, _ := g.h.Load().(http.Handler)
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// peersHaveLog asks every other member of boot, for up to `window`, whether it has a log.
// True as soon as one has; false once all answered "empty" or the window ran out.
func peersHaveLog(self uint64, boot members, window time.Duration) bool {
	client := &http.Client{Timeout: 300 * time.Millisecond}
	deadline := time.Now().Add(window)
	for {
		empty := 0
		others := 0
		for id, a := range boot {
			if id == self {
				continue
			}
			others++
			resp, err := client.Get(peerURL(a.Raft) + logProbePath)
			if err != nil {
				continue
			}
			var p logProbe
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				continue
			}
			if p.LastIndex > 0 {
				return true
			}
			empty++
		}
		if empty == others || time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
