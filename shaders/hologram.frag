#version 120
// Hologram fragment shader: round splats, flat colour from the colour camera.

varying vec4 v_color;
uniform float u_round;            // 1: round splats, 0: square

void main()
{
    if (v_color.a <= 0.0) discard;
    if (u_round > 0.5) {
        vec2 d = gl_PointCoord - vec2(0.5);
        if (dot(d, d) > 0.25) discard;
    }
    gl_FragColor = v_color;
}
