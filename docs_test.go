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
// too, held to game.Saver), generated with buf, built, and its tests run; its page and its state view type-check
// against client-js. A guide whose code no longer builds fails here.
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
			// The guide's Save and Restore, a fragment of the counter
			// game: built beside it, and held to game.Saver.
			name = "save.go"
			code = "package main\n\nimport (\n\t\"encoding/json\"\n\n\t\"example.com/counter/counterv1\"\n\t\"github.com/tickroom/tickroom/game\"\n)\n\nvar _ game.Saver = (*counter)(nil)\n\n" + code
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
	dir := t.TempDir()
	files["go.mod"] = "module example.com/counter\n\ngo 1.26.8\n\nrequire github.com/tickroom/tickroom v0.0.0\n\nreplace github.com/tickroom/tickroom => " + root + "\n"
	files["web/dist/index.html"] = files["web/index.html"]
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
		// The guide's protoc-gen-go plugins are found on PATH, as after its go install lines.
		// go mod tidy fetches the guide's whole module graph (test-only
		// requirements of its dependencies included) through the module
		// proxy, as a newcomer's would: a fresh module cache does not hold it.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(root, ".tools/bin")+string(os.PathListSeparator)+os.Getenv("PATH"), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(buf, "lint")
	run(buf, "generate")
	run("go", "mod", "tidy")
	run("go", "vet", "./...")
	run("go", "test", "-count=1", "./...")
	run(filepath.Join(nodeModules, ".bin/tsc"), "-p", "tsconfig.json")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
