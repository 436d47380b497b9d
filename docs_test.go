package tickroom_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGuideBuildsAndPasses follows docs/games.md as a studio would: the
// counter game's .proto, buf files, Go files and tests are taken from the
// guide's code blocks into a module of their own (its Save and Restore
// too, held to game.Saver), made with the guide's go get (at the version
// the module's replace of tickroom by this tree takes), generated with
// buf, and the guide's commands that bundle the page and build and test
// the module are run as it gives them (all but go run); its page and its
// state view type-check against client-js. A guide whose code no longer
// builds, or whose commands leave out a step, fails here: they had no
// go mod tidy, and go test stopped at a missing go.sum entry.
func TestGuideBuildsAndPasses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module")
	}
	root, _ := os.Getwd()
	buf := filepath.Join(root, ".tools/bin/buf")
	nodeModules := filepath.Join(root, "client-js/node_modules")
	for _, need := range []string{buf, filepath.Join(nodeModules, ".bin/protoc-gen-es")} {
		if _, err := os.Stat(need); err != nil {
			t.Skipf("%s missing (make tools npm)", need)
		}
	}
	guide, err := os.ReadFile("docs/games.md")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```(\\w+)\n(.*?)```").FindAllStringSubmatch(string(guide), -1) {
		lang, code := m[1], m[2]
		var name string
		switch {
		case lang == "proto":
			name = "proto/counter/v1/counter.proto"
		case lang == "go" && strings.Contains(code, "func Definition()"):
			name = "game.go"
		case lang == "go" && strings.Contains(code, "func (g *counter) Save("):
			// The guide's save.go, as it gives it (a fragment without
			// its package and imports did not build as a file of its
			// own), held to game.Saver.
			name = "save.go"
			code += "\nvar _ game.Saver = (*counter)(nil)\n"
		case lang == "go" && strings.Contains(code, "func main()"):
			name = "main.go"
		case lang == "go" && strings.Contains(code, "func Test"):
			name = "counter_test.go"
		case lang == "yaml" && strings.Contains(code, "modules:"):
			name = "buf.yaml"
		case lang == "yaml" && strings.Contains(code, "plugins:"):
			name = "buf.gen.yaml"
		case lang == "ts" && strings.Contains(code, "InspectorView"):
			name = "web/debug.ts"
		case lang == "ts":
			name = "web/main.ts"
		case lang == "html":
			name = "web/index.html"
		default:
			continue
		}
		if _, dup := files[name]; dup {
			t.Fatalf("the guide has two code blocks for %s", name)
		}
		files[name] = code
	}
	if len(files) != 10 {
		t.Fatalf("found %d of the guide's 10 files: %v", len(files), keys(files))
	}
	// The guide's commands from the page's bundle to a running server, as
	// it gives them in the sh block that bundles the page.
	var commands []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(guide), -1) {
		if strings.Contains(m[1], "esbuild web/main.ts") {
			commands = strings.Split(strings.TrimSpace(m[1]), "\n")
		}
	}
	if commands == nil {
		t.Fatal("the guide has no sh block that bundles the page")
	}
	// The guide's go get of tickroom, in the sh block that makes the
	// module, at the version the replace below gives this tree in place of
	// the guide's @latest or @<sha>, which no module proxy has for it.
	var goGet []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(guide), -1) {
		if !strings.Contains(m[1], "go mod init") {
			continue
		}
		for _, line := range strings.Split(m[1], "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) > 2 && f[0] == "go" && f[1] == "get" {
				goGet = f[1:]
			}
		}
	}
	if goGet == nil {
		t.Fatal("the guide's sh block that makes the module has no go get")
	}
	for i, arg := range goGet {
		if path, _, ok := strings.Cut(arg, "@"); ok {
			goGet[i] = path + "@v0.0.0"
		}
	}
	dir := t.TempDir()
	// The module as after the guide's mkdir and go mod init, with
	// tickroom replaced by this tree: the guide's go get below takes it.
	files["go.mod"] = "module example.com/counter\n\ngo 1.26.8\n\nreplace github.com/tickroom/tickroom => " + root + "\n"
	files["tsconfig.json"] = `{"compilerOptions": {"target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler", "lib": ["ES2022", "DOM"],
		"strict": true, "noEmit": true, "skipLibCheck": true, "baseUrl": ".", "paths": {"@tickroom/client": ["` + root + `/client-js/src/index.ts"]}},
		"include": ["web/*.ts", "web/gen/**/*.ts"]}`
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(nodeModules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		// The guide's protoc-gen-go plugins are found on PATH, as after
		// its go install lines, and esbuild as after its npm install.
		// The go commands fetch the guide's whole module graph (test-only
		// requirements of its dependencies included) through the module
		// proxy, as a newcomer's would: a fresh module cache does not hold
		// it. GOFLAGS is go's default, which updates no go.mod or go.sum
		// the guide's commands did not.
		path := filepath.Join(root, ".tools/bin") + string(os.PathListSeparator) + filepath.Join(nodeModules, ".bin") + string(os.PathListSeparator) + os.Getenv("PATH")
		cmd.Env = append(os.Environ(), "PATH="+path, "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("go", goGet...)
	run(buf, "lint")
	run(buf, "generate")
	for _, line := range commands {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "go run") {
			continue // go run serves until stopped: client-js's guide test runs the server
		}
		run("sh", "-c", line)
	}
	run("go", "vet", "./...")
	run(filepath.Join(nodeModules, ".bin/tsc"), "-p", "tsconfig.json")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
