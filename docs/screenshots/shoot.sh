#!/bin/bash
# Needs: apt-get install xvfb xterm x11-apps xdotool imagemagick fonts-dejavu-core; make build first.
# The training it starts from the train view runs in runs/tiny-cpu (relative to the repository root).
# xterm -ti vt340 under Xvfb running the TUI; types a prompt, generates, screenshots; then the train view.
disp=:93
Xvfb $disp -screen 0 1400x900x24 >/dev/null 2>&1 & xv=$!
sleep 1
cd "$(dirname "$0")/../.."
DISPLAY=$disp xterm -ti vt340 -xrm 'XTerm*decTerminalID: vt340' -xrm 'XTerm*numColorRegisters: 256' \
  -xrm 'XTerm*maxGraphicSize: 2048x2048' -xrm 'XTerm*sixelScrolling: true' -geometry 140x45 \
  -fa 'DejaVu Sans Mono' -fs 10 -bg black -fg gray90 -e bash -c "./bin/lumina --ckpt assets/lumina-tiny.safetensors --runs /tmp/lumina-shot-runs; sleep 5" >/dev/null 2>&1 & xt=$!
sleep 4
export DISPLAY=$disp
xdotool type --delay 30 "a red circle"
xdotool key ctrl+r
sleep 6
xwd -root -silent | /usr/bin/convert xwd:- png:docs/screenshots/tui-sample-sixel-vt340.png
sleep 1
xdotool key s
sleep 25
xwd -root -silent | /usr/bin/convert xwd:- png:docs/screenshots/tui-train-live-curve.png
xdotool key x
sleep 8
xdotool key ctrl+c
sleep 3
kill $xt $xv 2>/dev/null; wait $xt $xv 2>/dev/null
