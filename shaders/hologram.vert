#version 120
// Hologram vertex shader: one vertex per depth pixel on a static grid. Depth and colour arrive
// as textures; the shader deprojects each pixel with the depth intrinsics, looks up its colour
// through the depth->colour extrinsics and the colour intrinsics, and sizes the splat so that
// neighbouring pixels' splats touch at any distance. Invalid or out-of-range depth is dropped.
// The dollar-prefixed hooks are filled by vispy with the scene's transforms (see render/hologram.py).

#include "deproject.glsl"

attribute vec2 a_pixel;           // depth pixel (u, v)

uniform sampler2D u_depth;        // depth in metres, one float per texel, nearest filtering
uniform vec2 u_depth_size;        // depth width, height
uniform vec4 u_depth_intr;        // fx, fy, ppx, ppy of the depth stream
uniform sampler2D u_color;        // RGB colour image
uniform vec2 u_color_size;        // colour width, height
uniform vec4 u_color_intr;        // fx, fy, ppx, ppy of the colour stream
uniform mat4 u_depth_to_color;    // depth camera -> colour camera (column vectors)
uniform float u_has_color;        // 0: draw a neutral tint instead of colour
uniform vec2 u_range;             // near, far clip in metres
uniform float u_splat;            // splat diameter as a multiple of one grid cell's footprint
uniform float u_grid_step;        // grid stride in depth pixels
uniform float u_max_point;        // largest splat in framebuffer pixels
uniform float u_opacity;
uniform float u_reveal;           // 0..1: rows below (1 - reveal) * height are shown (join/leave)
uniform float u_px_per_unit;     // framebuffer pixels per metre at clip w = 1 (set per draw)

varying vec4 v_color;

void main()
{
    vec2 tex = (a_pixel + 0.5) / u_depth_size;
    float z = texture2D(u_depth, tex).r;
    float reveal_row = (1.0 - u_reveal) * u_depth_size.y;
    if (!(z > 0.0) || z <= u_range.x || z > u_range.y || a_pixel.y < reveal_row) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);   // outside the clip volume: dropped
        gl_PointSize = 0.0;
        v_color = vec4(0.0);
        return;
    }
    vec3 p = deproject_pixel(a_pixel, z, u_depth_intr);

    vec3 rgb = vec3(0.55, 0.75, 1.0);
    if (u_has_color > 0.5) {
        vec4 pc = u_depth_to_color * vec4(p, 1.0);
        vec2 uv = (project_point(pc.xyz, u_color_intr) + 0.5) / u_color_size;
        if (pc.z > 0.0 && uv.x >= 0.0 && uv.x <= 1.0 && uv.y >= 0.0 && uv.y <= 1.0) {
            rgb = texture2D(u_color, uv).rgb;
        } else {
            rgb = vec3(0.5);
        }
    }
    // a bright scan line at the edge while a participant materialises or fades out
    float edge = 1.0 - clamp((a_pixel.y - reveal_row) / (0.04 * u_depth_size.y), 0.0, 1.0);
    if (u_reveal < 1.0) {
        rgb = mix(rgb, vec3(0.45, 0.9, 1.0), edge);
    }
    v_color = vec4(rgb, u_opacity);

    vec4 pos = vec4(p, 1.0);
    vec4 clip = $visual_to_render(pos);
    // World-space size of one grid cell at this depth; on screen it shrinks with the clip w.
    float cell = u_splat * u_grid_step * z / u_depth_intr.x;
    gl_PointSize = clamp(cell * u_px_per_unit / clip.w, 1.0, u_max_point);
    gl_Position = clip;
}
