// Command goexec runs processes and timers from Go inside moat: os/exec
// (/bin/echo, a pipe from echo into sort, commands started from many
// goroutines, children killed by a context deadline and by SIGTERM),
// time.Timer, time.AfterFunc, time.Ticker and time.After, and goroutines
// waited for with a sync.WaitGroup. Its output is the same on every run.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	// os/exec: /bin/echo, its output, and its exit status.
	out, err := exec.Command("/bin/echo", "hello", "from", "echo").Output()
	fmt.Printf("echo: %q %v\n", out, err)
	err = exec.Command("/bin/sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	fmt.Println("exit status:", errors.As(err, &ee) && ee.ExitCode() == 3, err)
	_, err = exec.Command("/no/such/program").Output()
	fmt.Println("missing program:", errors.Is(err, fs.ErrNotExist))

	// A pipe between two commands: echo | sort.
	echo := exec.Command("/bin/echo", "pear\napple\nfig")
	sortCmd := exec.Command("/usr/bin/sort")
	pipe, err := echo.StdoutPipe()
	if err != nil {
		panic(err)
	}
	sortCmd.Stdin = pipe
	var sorted bytes.Buffer
	sortCmd.Stdout = &sorted
	if err := sortCmd.Start(); err != nil {
		panic(err)
	}
	if err := echo.Run(); err != nil {
		panic(err)
	}
	err = sortCmd.Wait()
	fmt.Printf("echo | sort: %q %v\n", sorted.String(), err)
	cat := exec.Command("/bin/cat")
	cat.Stdin = strings.NewReader("through cat\n")
	out, err = cat.Output()
	fmt.Printf("cat: %q %v\n", out, err)

	// Commands started from many goroutines at once.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		outputs []string
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := exec.Command("/bin/echo", "goroutine", fmt.Sprint(i)).Output()
			mu.Lock()
			outputs = append(outputs, fmt.Sprintf("%q %v", out, err))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Strings(outputs)
	fmt.Println(strings.Join(outputs, "\n"))

	// Killing children: a context deadline (SIGKILL) and a SIGTERM.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = exec.CommandContext(ctx, "/bin/sleep", "5").Run()
	cancel()
	fmt.Println("CommandContext deadline:", err, ctx.Err())
	sleep := exec.Command("/bin/sleep", "5")
	if err := sleep.Start(); err != nil {
		panic(err)
	}
	if err := sleep.Process.Signal(syscall.SIGTERM); err != nil {
		panic(err)
	}
	fmt.Println("SIGTERM:", sleep.Wait())

	// Timers.
	t := time.NewTimer(time.Hour)
	fmt.Println("Stop before firing:", t.Stop())
	t.Reset(10 * time.Millisecond)
	<-t.C
	fmt.Println("Reset timer fired")
	fired := make(chan string)
	time.AfterFunc(10*time.Millisecond, func() { fired <- "AfterFunc ran" })
	fmt.Println(<-fired)
	tick := time.NewTicker(5 * time.Millisecond)
	for i := 0; i < 3; i++ {
		<-tick.C
	}
	tick.Stop()
	fmt.Println("ticker ticked 3 times")
	start := time.Now()
	select {
	case <-time.After(30 * time.Millisecond):
		fmt.Println("time.After fired, late enough:", time.Since(start) >= 30*time.Millisecond)
	case <-time.After(10 * time.Second):
		fmt.Println("the 10 s timer fired first")
	}
	// Many goroutines sleeping on timers at once.
	var sleepers sync.WaitGroup
	woke := 0
	for i := 0; i < 100; i++ {
		sleepers.Add(1)
		go func(i int) {
			defer sleepers.Done()
			time.Sleep(time.Duration(i%10) * time.Millisecond)
			mu.Lock()
			woke++
			mu.Unlock()
		}(i)
	}
	sleepers.Wait()
	fmt.Println("goroutines woken:", woke)
	fmt.Println("done")
}
