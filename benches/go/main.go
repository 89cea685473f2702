// Command compare-go is the Go side of gorun's benches/compare.rs.
//
// It runs one workload once, the way compare.rs's children do:
//
//	compare-go --child WORKLOAD go SIZE
//
// and prints "ms=<wall ms of the workload> rss_kb=<VmHWM>". A wrong result panics, so the
// process fails. The harness runs it with GOMAXPROCS=2; main sets it too. The constants below
// repeat those of compare.rs and must stay equal to them.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	workers        = 2
	yielders       = 1000
	mpmcSenders    = 4
	mpmcReceivers  = 4
	mpmcCap        = 1024
	poolWorkers    = 4
	poolCap        = 16
	poolWork       = 1000
	skynetFanout   = 10
	selectChannels = 4
	mutexTasks     = 4
	sleepFor       = time.Second
	timerTasks     = 4
	echoClients    = 100
	echoMsg        = 64
	httpBody       = "Hello, World!\n"
)

var workloads = map[string]func(n uint64){
	"spawn":     spawn,
	"spawn_wg":  spawnWG,
	"chain":     chain,
	"yield":     yields,
	"pingpong":  pingpong,
	"main":      mainBody,
	"mpmc":      mpmc,
	"pool":      pool,
	"skynet":    skynet,
	"select":    selectWorkload,
	"waitgroup": waitgroup,
	"chans":     chans,
	"mutex":     mutex,
	"sleep":     sleep,
	"timers":    timers,
	"echo":      echo,
}

func main() {
	args := os.Args[1:]
	if len(args) == 4 && args[0] == "--child" && args[1] == "http" {
		httpServe()
	}
	if len(args) != 4 || args[0] != "--child" || args[2] != "go" {
		fmt.Fprintln(os.Stderr, "usage: compare-go --child WORKLOAD go SIZE")
		os.Exit(2)
	}
	run, ok := workloads[args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown workload %q\n", args[1])
		os.Exit(2)
	}
	n, err := strconv.ParseUint(args[3], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad size %q\n", args[3])
		os.Exit(2)
	}
	runtime.GOMAXPROCS(workers)
	start := time.Now()
	run(n)
	took := time.Since(start)
	fmt.Printf("ms=%.1f rss_kb=%d\n", float64(took.Nanoseconds())/1e6, peakRSSKB())
}

// peakRSSKB returns VmHWM from /proc/self/status, in KiB (0 if unavailable).
func peakRSSKB() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb
			}
		}
	}
	return 0
}

func check(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf(format, args...))
	}
}

// sumBelow is 0 + 1 + ... + (n-1).
func sumBelow(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	return n * (n - 1) / 2
}

func spawn(n uint64) {
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
}

// spawnWG is spawn with trivial work checked: each goroutine adds its number to a sum, one
// WaitGroup Add/Done per goroutine.
func spawnWG(n uint64) {
	var wg sync.WaitGroup
	var sum uint64
	for i := uint64(0); i < n; i++ {
		wg.Add(1)
		go func(i uint64) {
			atomic.AddUint64(&sum, i)
			wg.Done()
		}(i)
	}
	wg.Wait()
	check(atomic.LoadUint64(&sum) == sumBelow(n), "spawn_wg: sum %d, want %d", sum, sumBelow(n))
}

func chain(n uint64) {
	done := make(chan uint64)
	go link(1, n, done)
	last := <-done
	check(last == n, "chain: last link %d, want %d", last, n)
}

// link is goroutine i of n: it starts goroutine i+1, or reports n when it is the last.
func link(i, n uint64, done chan<- uint64) {
	if i == n {
		done <- i
		return
	}
	go link(i+1, n, done)
}

func yields(n uint64) {
	per := n / yielders
	var wg sync.WaitGroup
	var total uint64
	wg.Add(yielders)
	for g := 0; g < yielders; g++ {
		go func() {
			defer wg.Done()
			for i := uint64(0); i < per; i++ {
				runtime.Gosched()
			}
			atomic.AddUint64(&total, per)
		}()
	}
	wg.Wait()
	check(total == per*yielders, "yield: %d yields, want %d", total, per*yielders)
}

func pingpong(n uint64) {
	ping, pong := make(chan uint64), make(chan uint64)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := uint64(0); i < n; i++ {
		ping <- i
		v := <-pong
		check(v == i, "pingpong: got %d, want %d", v, i)
	}
	close(ping)
}

// mainBody is the "main" workload: pingpong, which already runs in the main goroutine (the
// Rust sides drive it from their runtime's main body instead of a spawned task).
func mainBody(n uint64) {
	pingpong(n)
}

func mpmc(n uint64) {
	per := n / mpmcSenders
	ch := make(chan uint64, mpmcCap)
	var senders sync.WaitGroup
	senders.Add(mpmcSenders)
	for s := uint64(0); s < mpmcSenders; s++ {
		go func(s uint64) {
			defer senders.Done()
			for j := uint64(0); j < per; j++ {
				ch <- s*per + j
			}
		}(s)
	}
	go func() {
		senders.Wait()
		close(ch)
	}()
	type partial struct{ sum, count uint64 }
	results := make(chan partial)
	for r := 0; r < mpmcReceivers; r++ {
		go func() {
			var p partial
			for v := range ch {
				p.sum += v
				p.count++
			}
			results <- p
		}()
	}
	var sum, count uint64
	for r := 0; r < mpmcReceivers; r++ {
		p := <-results
		sum += p.sum
		count += p.count
	}
	total := per * mpmcSenders
	check(count == total && sum == sumBelow(total), "mpmc: %d messages summing to %d", count, sum)
}

// poolJob is compare.rs's pool_job: poolWork rounds of xorshift from seed.
func poolJob(seed uint64) uint64 {
	x := seed | 1
	for i := 0; i < poolWork; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// poolSink keeps the jobs' results alive, so that the compiler cannot drop the work.
var poolSink uint64

func pool(n uint64) {
	jobs := make(chan uint64, poolCap)
	sums := make(chan uint64)
	for w := 0; w < poolWorkers; w++ {
		go func() {
			var sum, mix uint64
			for j := range jobs {
				mix ^= poolJob(j)
				sum += j
			}
			atomic.AddUint64(&poolSink, mix)
			sums <- sum
		}()
	}
	for j := uint64(0); j < n; j++ {
		jobs <- j
	}
	close(jobs)
	var sum uint64
	for w := 0; w < poolWorkers; w++ {
		sum += <-sums
	}
	check(sum == sumBelow(n), "pool: jobs summing to %d", sum)
}

func skynet(n uint64) {
	for m := n; m > 1; m /= skynetFanout {
		check(m%skynetFanout == 0, "skynet size %d is not a power of %d", n, skynetFanout)
	}
	c := make(chan uint64)
	go skynetNode(c, 0, n)
	sum := <-c
	check(sum == sumBelow(n), "skynet: sum %d, want %d", sum, sumBelow(n))
}

// skynetNode covers leaves num..num+size: a leaf sends its number, an inner node starts its
// children and sends the sum of what they send.
func skynetNode(out chan<- uint64, num, size uint64) {
	if size == 1 {
		out <- num
		return
	}
	rc := make(chan uint64)
	child := size / skynetFanout
	for i := uint64(0); i < skynetFanout; i++ {
		go skynetNode(rc, num+i*child, child)
	}
	var sum uint64
	for i := 0; i < skynetFanout; i++ {
		sum += <-rc
	}
	out <- sum
}

func selectWorkload(n uint64) {
	per := n / selectChannels
	var cs [selectChannels]chan uint64
	for s := range cs {
		c := make(chan uint64)
		cs[s] = c
		go func(s uint64) {
			for j := uint64(0); j < per; j++ {
				c <- s*per + j
			}
			close(c)
		}(uint64(s))
	}
	var sum, count uint64
	open := selectChannels
	// take records one receive; a closed channel is set to nil so select never picks it again.
	take := func(c *chan uint64, v uint64, ok bool) {
		if !ok {
			*c = nil
			open--
			return
		}
		sum += v
		count++
	}
	for open > 0 {
		select {
		case v, ok := <-cs[0]:
			take(&cs[0], v, ok)
		case v, ok := <-cs[1]:
			take(&cs[1], v, ok)
		case v, ok := <-cs[2]:
			take(&cs[2], v, ok)
		case v, ok := <-cs[3]:
			take(&cs[3], v, ok)
		}
	}
	total := per * selectChannels
	check(count == total && sum == sumBelow(total), "select: %d messages summing to %d", count, sum)
}

func waitgroup(n uint64) {
	var wg sync.WaitGroup
	var done uint64
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			atomic.AddUint64(&done, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	check(atomic.LoadUint64(&done) == n, "waitgroup: %d done, want %d", done, n)
}

// chans makes n unbuffered channels, each with one goroutine blocked receiving from it, then
// sends one value on each; every receiver adds what it got to a sum.
func chans(n uint64) {
	var wg sync.WaitGroup
	var sum, count uint64
	cs := make([]chan uint64, n)
	wg.Add(int(n))
	for i := range cs {
		c := make(chan uint64)
		cs[i] = c
		go func() {
			v := <-c
			atomic.AddUint64(&sum, v)
			atomic.AddUint64(&count, 1)
			wg.Done()
		}()
	}
	for i, c := range cs {
		c <- uint64(i)
	}
	wg.Wait()
	check(count == n && sum == sumBelow(n), "chans: %d received summing to %d", count, sum)
}

func mutex(n uint64) {
	per := n / mutexTasks
	var mu sync.Mutex
	var counter uint64
	var wg sync.WaitGroup
	wg.Add(mutexTasks)
	for g := 0; g < mutexTasks; g++ {
		go func() {
			defer wg.Done()
			for i := uint64(0); i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	check(counter == per*mutexTasks, "mutex: counter %d, want %d", counter, per*mutexTasks)
}

func sleep(n uint64) {
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			time.Sleep(sleepFor)
			wg.Done()
		}()
	}
	wg.Wait()
	check(time.Since(start) >= sleepFor, "sleep: all done after %v", time.Since(start))
}

// timerDelay is the delay of the i-th timer: 30 s plus up to a second, spread over many slots
// (far enough that no timer fires before it is stopped, even on a loaded machine).
func timerDelay(i uint64) time.Duration {
	return 30*time.Second + time.Duration(i%1024)*time.Millisecond
}

func timers(n uint64) {
	per := n / timerTasks
	var wg sync.WaitGroup
	var stopped uint64
	wg.Add(timerTasks)
	for g := 0; g < timerTasks; g++ {
		go func() {
			defer wg.Done()
			ts := make([]*time.Timer, 0, per)
			for i := uint64(0); i < per; i++ {
				ts = append(ts, time.NewTimer(timerDelay(i)))
			}
			for _, t := range ts {
				check(t.Stop(), "timers: a timer had already fired")
			}
			atomic.AddUint64(&stopped, uint64(len(ts)))
		}()
	}
	wg.Wait()
	check(stopped == per*timerTasks, "timers: %d stopped, want %d", stopped, per*timerTasks)
}

func echo(n uint64) {
	per := n / echoClients
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err == nil, "echo: listen: %v", err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go echoServe(conn)
		}
	}()
	var wg sync.WaitGroup
	var trips uint64
	wg.Add(echoClients)
	for c := 0; c < echoClients; c++ {
		go func(id byte) {
			defer wg.Done()
			atomic.AddUint64(&trips, echoClient(ln.Addr().String(), id, per))
		}(byte(c))
	}
	wg.Wait()
	check(trips == per*echoClients, "echo: %d round trips, want %d", trips, per*echoClients)
}

// echoServe writes back whatever arrives until the client hangs up. (An explicit loop rather
// than io.Copy, which would splice in the kernel where the Rust servers copy through a buffer.)
func echoServe(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		k, err := conn.Read(buf)
		if k > 0 {
			if _, werr := conn.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// echoClient does trips round trips of one echoMsg-byte message, each checked byte for byte.
func echoClient(addr string, id byte, trips uint64) uint64 {
	conn, err := net.Dial("tcp", addr) // Go sets TCP_NODELAY by default
	check(err == nil, "echo: dial: %v", err)
	defer conn.Close()
	msg := bytes.Repeat([]byte{id}, echoMsg)
	back := make([]byte, echoMsg)
	for i := uint64(0); i < trips; i++ {
		binary.LittleEndian.PutUint64(msg[:8], i)
		_, err := conn.Write(msg)
		check(err == nil, "echo: write: %v", err)
		_, err = io.ReadFull(conn, back)
		check(err == nil, "echo: read: %v", err)
		check(bytes.Equal(msg, back), "echo: wrong bytes")
	}
	return trips
}

// httpServe is the "http" workload's server: net/http on a loopback port, printing
// "addr=HOST:PORT", serving until standard input ends, then printing "rss_kb=N". The harness
// (compare.rs) is the client, the same for every server.
func httpServe() {
	runtime.GOMAXPROCS(workers)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, httpBody)
	})
	go http.Serve(ln, mux)
	fmt.Printf("addr=%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	fmt.Printf("rss_kb=%d\n", peakRSSKB())
	os.Exit(0)
}
