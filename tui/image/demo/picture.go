package main

import (
	"flag"
	"fmt"
	"image"

	"github.com/lumina-workbench/lumina/data/world"
)

var photo = flag.Bool("photo", false, "render the scene in the shaded \"photo\" domain instead of flat")

// picture is a fixed scene of the procedural world rendered at 64×64, the
// size the workbench's small presets sample at.
func picture() (image.Image, error) {
	s := world.Scene{
		Background: world.Gray,
		Domain:     world.Flat,
		Objects: []world.Object{
			{Shape: world.Circle, Colour: world.Red, Size: world.Large, X: 0.3, Y: 0.3},
			{Shape: world.Square, Colour: world.Yellow, Size: world.Medium, X: 0.75, Y: 0.72},
			{Shape: world.Triangle, Colour: world.Blue, Size: world.Medium, X: 0.25, Y: 0.78},
		},
	}
	if *photo {
		s.Domain = world.Photo
	}
	img, err := world.Render(s, 64, 64)
	if err != nil {
		return nil, fmt.Errorf("render demo scene: %w", err)
	}
	return img, nil
}
